// Integration tests skip only with a stated reason (see support/integration.ts). Under
// REQUIRE_INTEGRATION=1 (set by .ci/run) any skipped test fails the run, so a CI machine that
// silently lacks root, moto or systemd-nspawn cannot pass green.
export default class SkipReporter {
  constructor() {
    this.skipped = []
  }

  onTestResult(_test, result) {
    for (const t of result.testResults) {
      if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo')
        this.skipped.push(`${result.testFilePath.replace(process.cwd() + '/', '')}: ${t.fullName}`)
    }
  }

  onRunComplete(_contexts, results) {
    // The plain closing line CI reads, whatever the runner.
    console.log(
      `\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`
    )
    if (this.skipped.length === 0) return
    const list = this.skipped.map(s => `  - ${s}`).join('\n')
    if (process.env.REQUIRE_INTEGRATION === '1') {
      this.error = new Error(
        `${this.skipped.length} test(s) skipped, which REQUIRE_INTEGRATION=1 forbids:\n${list}`
      )
      console.error(this.error.message)
    } else {
      console.warn(`${this.skipped.length} test(s) skipped:\n${list}`)
    }
  }

  getLastError() {
    return this.error
  }
}

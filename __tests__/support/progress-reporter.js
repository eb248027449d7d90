// Where a long run is, and what keeps it from ending. On a two-core machine jest runs every file
// inside its own main process, so a harness handle left open (a child, a socket, a timer) would
// keep jest alive after the last test; jest.config.js ends the process regardless, and this
// reporter names those handles so the leak is seen and mended rather than hidden.
//
// JEST_PROGRESS_FILE (set by .ci/run) gets a timestamped line as each test file starts and ends,
// so a watchdog that stops a stuck run can say which file was running.
import { appendFileSync } from 'node:fs'
import { relative } from 'node:path'

// What a finished run holds by design: its own output streams.
const EXPECTED = new Set(['TTYWrap', 'PipeWrap', 'FSReqCallback'])

export default class ProgressReporter {
  constructor(globalConfig) {
    this.root = globalConfig.rootDir
    this.file = process.env.JEST_PROGRESS_FILE
  }

  note(line) {
    if (this.file) appendFileSync(this.file, `${new Date().toISOString()} ${line}\n`)
  }

  onTestFileStart(test) {
    this.note(`start ${relative(this.root, test.path)}`)
  }

  onTestFileResult(test, result) {
    const status = result.testExecError || result.numFailingTests > 0 ? 'FAIL' : 'pass'
    const seconds = ((result.perfStats.end - result.perfStats.start) / 1000).toFixed(1)
    this.note(`${status}  ${relative(this.root, test.path)} (${seconds} s)`)
  }

  async onRunComplete() {
    this.note('run complete')
    // A child that has just exited, or a socket just destroyed, closes on the next turns of
    // the loop: give the harness a moment before calling anything a leak.
    const leftOpen = () => process.getActiveResourcesInfo().filter(r => !EXPECTED.has(r))
    for (let waited = 0; waited < 2_000 && leftOpen().length > 0; waited += 100) {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    // The waiting timer has fired by now; whatever remains is the harness's.
    const open = leftOpen()
    if (open.length === 0) return
    const counts = {}
    for (const r of open) counts[r] = (counts[r] ?? 0) + 1
    const list = Object.entries(counts)
      .map(([r, n]) => `${r} ×${n}`)
      .join(', ')
    console.warn(`jest: handles still open after the last test (a harness leak): ${list}`)
    this.note(`open handles: ${list}`)
  }
}

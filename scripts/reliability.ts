// npm run reliability: runs the reliability suite (__tests__/integration/reliability-*.test.ts)
// with jest, collects what every case observed (each test appends one JSON line per case to
// the file named by RELIABILITY_RESULTS), and writes the numbers to reliability/report.json and
// reliability/report.md. Exits with jest's status: a red suite is a red report.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir, totalmem, type as osType } from 'node:os'
import { join } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { BAD_INPUTS } from '../__tests__/support/bad-inputs.js'
import {
  RESULTS_ENV,
  type CaseRecord,
  type Category
} from '../__tests__/support/reliability-record.js'

const TESTS = '__tests__/integration'
const OUT = 'reliability'
const LIMIT_MS = 10 * 60_000

interface JestFile {
  name: string
  startTime: number
  endTime: number
  assertionResults: { fullName: string; status: string; duration?: number | null }[]
}

interface JestJson {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
  testResults: JestFile[]
}

function runJest(files: string[], resultsFile: string, jsonFile: string): Promise<number> {
  return new Promise(resolve => {
    const child = spawn(
      process.execPath,
      [
        'node_modules/jest/bin/jest.js',
        '--selectProjects',
        'integration',
        '--json',
        '--outputFile',
        jsonFile,
        '--runTestsByPath',
        ...files
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        // Its own process group: at the time limit, jest and everything it started (moto,
        // test hosts, bundles) are stopped together.
        detached: true,
        env: {
          ...process.env,
          NODE_OPTIONS: [process.env.NODE_OPTIONS, '--experimental-vm-modules']
            .filter(Boolean)
            .join(' '),
          // A report made of skipped tests would say nothing: skipping is an error here.
          REQUIRE_INTEGRATION: '1',
          [RESULTS_ENV]: resultsFile
        }
      }
    )
    const timer = setTimeout(() => {
      console.error(`reliability: over ${LIMIT_MS / 60_000} minutes; stopping the suite`)
      if (child.pid) process.kill(-child.pid, 'SIGTERM')
    }, LIMIT_MS)
    // Ctrl-C or a cancelled job reaches the script only: pass it on to the whole group.
    const forward = (signal: NodeJS.Signals) => {
      if (child.pid) process.kill(-child.pid, signal)
    }
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    child.on('exit', code => {
      clearTimeout(timer)
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      resolve(code ?? 1)
    })
  })
}

const sum = (records: CaseRecord[], f: (r: CaseRecord) => number) =>
  records.reduce((total, r) => total + f(r), 0)

function totals(records: CaseRecord[]) {
  const inputs = records.find(r => r.category === 'inputs')
  return {
    cases: records.length,
    faultsInjected: sum(records, r => r.faults),
    actionRuns: sum(records, r => r.runs),
    casesSurvived: records.filter(r => r.survived).length,
    resourcesLeaked: sum(records, r => r.leaked.length),
    sshRulesLeftOpen: sum(records, r => r.sshOpen.length),
    secretsFound: sum(records, r => r.secrets.length),
    inputsRejected: Number(inputs?.detail?.rejected ?? 0),
    badInputs: BAD_INPUTS.length
  }
}

const machine = () => ({
  os: `${osType()} ${release()}`,
  cpu: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown'}`,
  memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
  node: process.version
})

const ORDER: Category[] = [
  'crash',
  'provision',
  'kill',
  'throttling',
  'concurrency',
  'security-groups',
  'secrets',
  'github',
  'inputs'
]
// Within a category: the baseline, cleanup-on-failure true, then false, then lost answers.
const lane = (r: CaseRecord) =>
  /^lost answer/.test(r.name)
    ? 3
    : /cleanup-on-failure: false/.test(r.name)
      ? 2
      : /cleanup-on-failure: true/.test(r.name)
        ? 1
        : 0
const inOrder = (records: CaseRecord[]) =>
  records
    .map((r, i) => ({ r, i }))
    .sort(
      (x, y) =>
        ORDER.indexOf(x.r.category) - ORDER.indexOf(y.r.category) ||
        lane(x.r) - lane(y.r) ||
        x.i - y.i
    )
    .map(({ r }) => r)

const cell = (s: unknown) => String(s).replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim()
const list = (items: string[]) => (items.length ? items.map(cell).join('; ') : '—')
const yes = (ok: boolean) => (ok ? 'yes' : '**no**')

function markdown(report: ReturnType<typeof buildReport>): string {
  const t = report.totals
  const lines: string[] = [
    '# Reliability report',
    '',
    `Written by \`npm run reliability\` on ${report.date} (${report.machine.os}, ${report.machine.cpu}, ${report.machine.memoryGiB} GiB, Node ${report.machine.node} running the bundle under Node 24). Jest: ${report.jest.passed} passed, ${report.jest.failed} failed, ${report.jest.skipped} skipped, in ${report.jest.seconds} s.`,
    '',
    'The committed bundle ran against moto behind a fault proxy, with every instance booted as a real Debian host whose security groups are enforced with nftables, and a local GitHub API on a real git repository.',
    '',
    '| measure | count |',
    '| --- | ---: |',
    `| cases | ${t.cases} |`,
    `| faults injected | ${t.faultsInjected} |`,
    `| runs of the action (main and post steps) | ${t.actionRuns} |`,
    `| cases survived | ${t.casesSurvived} of ${t.cases} |`,
    `| resources leaked | ${t.resourcesLeaked} |`,
    `| SSH rules left open | ${t.sshRulesLeftOpen} |`,
    `| secrets found in logs, outputs, summaries, user-data or tags | ${t.secretsFound} |`,
    `| bad inputs rejected before any call | ${t.inputsRejected} of ${t.badInputs} |`,
    '',
    '## By category',
    '',
    '| category | cases | survived | faults | runs | leaked | SSH open | secrets | seconds |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.categories.map(
      c =>
        `| ${c.category} | ${c.cases} | ${c.survived} | ${c.faults} | ${c.runs} | ${c.leaked} | ${c.sshOpen} | ${c.secrets} | ${c.seconds} |`
    ),
    '',
    '## Every case',
    '',
    '| category | case | faults | survived | leaked | SSH open | secrets | seconds | what the action said or did |',
    '| --- | --- | ---: | --- | --- | --- | --- | ---: | --- |',
    ...inOrder(report.cases).map(
      r =>
        `| ${r.category} | ${cell(r.name)} | ${r.faults} | ${yes(r.survived)} | ${list(r.leaked)} | ${list(r.sshOpen)} | ${list(r.secrets)} | ${r.seconds} | ${cell(describe(r))} |`
    ),
    ''
  ]
  const down = report.cases.filter(r => !r.survived)
  if (down.length > 0)
    lines.push(
      '## Cases that did not survive',
      '',
      ...down.map(r => `- ${cell(r.name)}: ${cell(JSON.stringify(r.detail ?? {}))}`),
      ''
    )
  lines.push(
    '## How to read it',
    '',
    '- A crash case injects `UnauthorizedOperation` (HTTP 403, not retried) at the k-th call of one mutating EC2 action of a fresh apply, in the order a clean apply sent them; the SSH case makes the host refuse the login after the SSH rule was opened. With `cleanup-on-failure: true` survival means nothing tagged with the deployment remains; with `false`, that a plain re-run converges (Redis answers a client-group host, the runner reaches neither port 22 nor 6379) and destroy then leaves nothing.',
    '- A lost answer lets EC2 act, then resets the connection before the answer: the SDK retries, and the deployment must still have one group, one instance and one address.',
    '- A kill stops the bundle while moto holds the SSH rule; the post step, given the state main saved, must close it.',
    '- SSH rules are counted in every security group moto holds, after main and again after the post step. Secrets are the Redis password, the body lines of the SSH private key and the GitHub token, looked for in stdout (without `::add-mask::` lines), stderr, the job summary, outputs, saved state, and in moto: its whole state, decoded user-data and tags.',
    ''
  )
  return lines.join('\n')
}

/** One line per case: the error it ended with, or its measurements. */
function describe(r: CaseRecord): string {
  const d = r.detail ?? {}
  if (typeof d.error === 'string' && d.error) return d.error
  const skip = new Set(['problems', 'phases', 'mutatingCalls', 'violations', 'refsChanged'])
  const parts = Object.entries(d)
    .filter(([k, v]) => !skip.has(k) && v !== '' && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
  if (Array.isArray(d.mutatingCalls)) parts.unshift(`mutating calls: ${d.mutatingCalls.join(', ')}`)
  return parts.join('; ')
}

function buildReport(records: CaseRecord[], jest: JestJson | undefined, seconds: number) {
  const categories = ORDER.filter(c => records.some(r => r.category === c)).map(category => {
    const of = records.filter(r => r.category === category)
    return {
      category,
      cases: of.length,
      survived: of.filter(r => r.survived).length,
      faults: sum(of, r => r.faults),
      runs: sum(of, r => r.runs),
      leaked: sum(of, r => r.leaked.length),
      sshOpen: sum(of, r => r.sshOpen.length),
      secrets: sum(of, r => r.secrets.length),
      seconds: Number(sum(of, r => r.seconds).toFixed(1))
    }
  })
  return {
    date: new Date().toISOString(),
    machine: machine(),
    jest: {
      passed: jest?.numPassedTests ?? 0,
      failed: jest?.numFailedTests ?? 0,
      skipped: (jest?.numPendingTests ?? 0) + (jest?.numTodoTests ?? 0),
      seconds,
      files: (jest?.testResults ?? []).map(f => ({
        file: f.name.replace(process.cwd() + '/', ''),
        seconds: Number(((f.endTime - f.startTime) / 1000).toFixed(1)),
        tests: f.assertionResults.map(a => ({ name: a.fullName, status: a.status }))
      }))
    },
    totals: totals(records),
    categories,
    cases: records
  }
}

async function main(): Promise<void> {
  const files = readdirSync(TESTS)
    .filter(f => /^reliability-.*\.test\.ts$/.test(f))
    .sort()
    .map(f => join(TESTS, f))
  const scratch = mkdtempSync(join(tmpdir(), 'openemr-redis-reliability-'))
  const resultsFile = join(scratch, 'cases.jsonl')
  const jsonFile = join(scratch, 'jest.json')
  writeFileSync(resultsFile, '')
  const started = performance.now()
  const code = await runJest(files, resultsFile, jsonFile)
  const seconds = Number(((performance.now() - started) / 1000).toFixed(1))
  let jest: JestJson | undefined
  try {
    jest = JSON.parse(readFileSync(jsonFile, 'utf8')) as JestJson
  } catch {
    jest = undefined
  }
  const records = readFileSync(resultsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as CaseRecord)
  rmSync(scratch, { recursive: true, force: true })

  const report = buildReport(records, jest, seconds)
  mkdirSync(OUT, { recursive: true })
  // Formatted as the repository formats everything (npm run lint checks these files too).
  const write = async (name: string, text: string) => {
    const path = join(OUT, name)
    const options = (await resolveConfig(path)) ?? {}
    writeFileSync(path, await format(text, { ...options, filepath: path }))
  }
  await write('report.json', JSON.stringify(report, null, 2))
  await write('report.md', markdown(report))
  const t = report.totals
  console.log(
    `\nreliability: ${t.cases} cases, ${t.faultsInjected} faults, ${t.casesSurvived} survived, ${t.resourcesLeaked} leaked, ${t.sshRulesLeftOpen} SSH rules open, ${t.secretsFound} secrets, ${t.inputsRejected}/${t.badInputs} bad inputs rejected, ${seconds} s → ${OUT}/report.md`
  )
  process.exitCode = code
}

await main()

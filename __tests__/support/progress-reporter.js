// Where a long run is, and what keeps it from ending. On a two-core machine jest runs every file
// inside its own main process, so a harness handle left open (a child, a socket, a timer) would
// keep jest alive after the last test; jest.config.js ends the process regardless, and this
// reporter names those handles so the leak is seen and mended rather than hidden.
//
// JEST_PROGRESS_FILE (set by .ci/run) gets a timestamped line as each test file starts and ends,
// with the sockets and children open at its end, so a watchdog that stops a stuck run can say
// which file was running, and a leak can be traced to the file that left it.
import { appendFileSync } from 'node:fs'
import { relative } from 'node:path'

/** The sockets, servers and children the process holds, but for its own standard streams. */
function openHandles() {
  const own = new Set([process.stdin, process.stdout, process.stderr])
  return process
    ._getActiveHandles()
    .filter(h => !own.has(h))
    .map(h => {
      if (h.spawnargs) return `child ${h.spawnargs.join(' ').slice(0, 80)}`
      if (h.remotePort)
        return `tcp ${h.localAddress}:${h.localPort} → ${h.remoteAddress}:${h.remotePort}`
      if (typeof h.address === 'function' && h.listening) {
        const a = h.address()
        return `server ${typeof a === 'string' ? a : `${a.address}:${a.port}`}`
      }
      return h.constructor?.name ?? 'handle'
    })
}

const timers = () => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length

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
    const open = openHandles()
    this.note(
      `${status}  ${relative(this.root, test.path)} (${seconds} s)${open.length ? `; open: ${open.join('; ')}` : ''}`
    )
  }

  async onRunComplete() {
    this.note('run complete')
    // A child that has just exited, or a socket just destroyed, closes on the next turns of
    // the loop: give the harness a moment before calling anything a leak.
    const leftOpen = () => openHandles().length + timers()
    for (let waited = 0; waited < 2_000 && leftOpen() > 0; waited += 100) {
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    // The waiting timer has fired by now; whatever remains is the harness's.
    const open = [...openHandles(), ...Array(timers()).fill('timer')]
    if (open.length === 0) return
    const list = open.join('; ')
    console.warn(`jest: handles still open after the last test (a harness leak): ${list}`)
    this.note(`open handles: ${list}`)
  }
}

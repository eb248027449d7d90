// Stops what the demo started, newest first, exactly once — after success, after a failure,
// or on Ctrl-C / SIGTERM / SIGHUP — and then checks that nothing of it is left on the machine.
import { existsSync, readdirSync, readFileSync } from 'node:fs'

export interface StepResult {
  name: string
  seconds: number
  error?: string
}

export class Teardown {
  private readonly steps: { name: string; stop: () => Promise<unknown> }[] = []
  private running: Promise<StepResult[]> | undefined

  add(name: string, stop: () => Promise<unknown>): void {
    this.steps.push({ name, stop })
  }

  get started(): boolean {
    return this.running !== undefined
  }

  /** Runs every stop, newest first; a failing stop does not keep the others from running. */
  run(): Promise<StepResult[]> {
    this.running ??= (async () => {
      const results: StepResult[] = []
      for (const step of [...this.steps].reverse()) {
        const started = performance.now()
        try {
          await step.stop()
          results.push({ name: step.name, seconds: (performance.now() - started) / 1000 })
        } catch (error) {
          results.push({
            name: step.name,
            seconds: (performance.now() - started) / 1000,
            error: error instanceof Error ? error.message : String(error)
          })
        }
      }
      return results
    })()
    return this.running
  }
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const

/**
 * On the first signal: `interrupt` (stop the running bundle), the teardown, then exit with
 * 128 + the signal's number. Later signals are ignored — the test-host harness re-raises the
 * signal after its own synchronous cleanup — and a hard cap ends the process if a stop hangs.
 */
export function tearDownOnSignals(
  teardown: Teardown,
  interrupt: (signal: string) => void,
  report: (results: StepResult[]) => void
): void {
  let caught = false
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.on(signal, () => {
      if (caught) return
      caught = true
      interrupt(signal)
      setTimeout(() => process.exit(128 + number), 60_000).unref()
      void teardown
        .run()
        .then(report)
        .finally(() => process.exit(128 + number))
    })
  }
}

/** Children of this process that are still alive (zombies excepted). */
export function livingChildren(): { pid: number; name: string }[] {
  const children: { pid: number; name: string }[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const [state, ppid] = stat.slice(close + 2).split(' ')
      if (Number(ppid) === process.pid && state !== 'Z')
        children.push({ pid: Number(entry), name: stat.slice(stat.indexOf('(') + 1, close) })
    } catch {
      // gone while reading
    }
  }
  return children
}

/** Network namespaces whose names start with `prefix` (the test hosts' are oer-<name>). */
export function namespacesLeft(prefix: string): string[] {
  if (!existsSync('/run/netns')) return []
  return readdirSync('/run/netns').filter(n => n.startsWith(prefix))
}

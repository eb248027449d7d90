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
 * On the first signal: `handle` (stop, tear down, report), then exit with 128 + the signal's
 * number. Later signals are ignored — the test-host harness re-raises the signal after its own
 * synchronous cleanup — and a hard cap ends the process if a stop hangs. Returns whether a
 * signal has arrived.
 */
export function onFirstSignal(handle: (signal: string) => Promise<void>): () => boolean {
  let caught = false
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.on(signal, () => {
      if (caught) return
      caught = true
      setTimeout(() => process.exit(128 + number), 60_000).unref()
      void handle(signal).finally(() => process.exit(128 + number))
    })
  }
  return () => caught
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

/**
 * The last resort of a teardown: children of this process that are new since `before` — a moto
 * or a host boot script whose start was cut short by Ctrl-C, before anything could own it —
 * get SIGTERM, then SIGKILL after three seconds. A start cut short may retry with a new child,
 * so it sweeps again until none is left. Returns what it had to stop.
 */
export async function stopNewChildren(before: Set<number>): Promise<string[]> {
  const stopped: string[] = []
  for (let round = 0; round < 5; round++) {
    const strays = livingChildren().filter(c => !before.has(c.pid))
    if (strays.length === 0) break
    for (const c of strays) signal(c.pid, 'SIGTERM')
    for (let waited = 0; waited < 3000; waited += 100) {
      const alive = new Set(livingChildren().map(c => c.pid))
      if (!strays.some(c => alive.has(c.pid))) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const alive = new Set(livingChildren().map(c => c.pid))
    for (const c of strays) if (alive.has(c.pid)) signal(c.pid, 'SIGKILL')
    stopped.push(...strays.map(c => `${c.name} ${c.pid}`))
    // Give a start-up that was waiting on the killed child the moment it needs to react.
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return stopped
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    // exited meanwhile
  }
}

// Runs the committed bundle in a runner workspace (test support's runnerWorkspace), with the
// moment of every output line, so a benchmark can line the action's progress up with the
// fault proxy's log on one clock.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { NODE24, runnerWorkspace } from '../../__tests__/support/run-action.js'

export interface TimedLine {
  /** Epoch ms when the line arrived. */
  at: number
  stream: 'stdout' | 'stderr'
  text: string
}

export interface BundleRun {
  code: number
  /** Epoch ms: spawn, and exit. */
  startedAt: number
  endedAt: number
  lines: TimedLine[]
  outputs: Record<string, string>
  summary: string
}

export async function runBundle(
  inputs: Record<string, string>,
  env: Record<string, string>,
  options: { timeoutMs?: number; onLine?: (line: TimedLine) => void } = {}
): Promise<BundleRun> {
  const workspace = runnerWorkspace(inputs, { env })
  try {
    const lines: TimedLine[] = []
    const startedAt = Date.now()
    const child = spawn(NODE24, ['dist/index.js'], {
      env: workspace.env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    for (const stream of ['stdout', 'stderr'] as const)
      createInterface({ input: child[stream] }).on('line', text => {
        const line: TimedLine = { at: Date.now(), stream, text }
        lines.push(line)
        options.onLine?.(line)
      })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    const code = await new Promise<number>(resolve =>
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)))
    )
    const endedAt = Date.now()
    clearTimeout(timer)
    const { outputs, summary } = workspace.read()
    return { code, startedAt, endedAt, lines, outputs, summary }
  } finally {
    workspace.remove()
  }
}

/** The action's own phase lines ("instance: 2.1 s"), in order. */
export function phaseLines(run: BundleRun): { phase: string; seconds: number; at: number }[] {
  return run.lines.flatMap(l => {
    const m = /^([a-z][a-z ()]*): (\d+(?:\.\d+)?) s$/.exec(l.text)
    return m ? [{ phase: m[1], seconds: Number(m[2]), at: l.at }] : []
  })
}

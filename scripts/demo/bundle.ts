// Runs the committed bundle as a GitHub runner does (inputs as INPUT_* variables; outputs,
// saved state and job summary through the runner's files) and hands each line of its output
// to the caller as it comes, so the demo shows progress live rather than after the fact.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { NODE24, runnerWorkspace } from '../../__tests__/support/run-action.js'

export interface BundleRun {
  code: number
  /** Every line the bundle wrote, stdout and stderr, in the order they arrived. */
  lines: { stream: 'stdout' | 'stderr'; text: string }[]
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  seconds: number
}

export interface BundleOptions {
  root: string
  inputs: Record<string, string>
  env: Record<string, string>
  /** State saved by the main step: makes this run the post step. */
  state?: Record<string, string>
  onLine: (stream: 'stdout' | 'stderr', text: string) => void
}

let current: ChildProcess | undefined

/** Stops a bundle that is still running (on Ctrl-C), by its pid. */
export function killRunningBundle(): void {
  if (current?.pid && current.exitCode === null && current.signalCode === null)
    process.kill(current.pid, 'SIGTERM')
}

export async function runBundle(options: BundleOptions): Promise<BundleRun> {
  const workspace = runnerWorkspace(options.inputs, options)
  const env = workspace.env

  const started = performance.now()
  const lines: BundleRun['lines'] = []
  try {
    const child = spawn(join(options.root, NODE24), [join(options.root, 'dist/index.js')], {
      cwd: options.root,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    current = child
    const follow = (stream: 'stdout' | 'stderr') =>
      new Promise<void>(resolve => {
        const source = stream === 'stdout' ? child.stdout : child.stderr
        const reader = createInterface({ input: source, crlfDelay: Infinity })
        reader.on('line', text => {
          lines.push({ stream, text })
          options.onLine(stream, text)
        })
        reader.on('close', resolve)
      })
    const [code] = await Promise.all([
      new Promise<number>((resolve, reject) => {
        child.once('error', reject)
        child.once('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)))
      }),
      follow('stdout'),
      follow('stderr')
    ])
    return {
      code,
      lines,
      ...workspace.read(),
      seconds: (performance.now() - started) / 1000
    }
  } finally {
    current = undefined
    workspace.remove()
  }
}

/** One line of the bundle's output as a runner's log viewer would show it, or undefined to hide. */
export function displayLine(text: string): { kind: string; text: string } | undefined {
  const command = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/.exec(text)
  if (!command) return { kind: 'info', text }
  const [, name, , data] = command
  const unescape = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
  switch (name) {
    // The runner hides these: the values to mask, debug lines, and the group brackets.
    case 'add-mask':
    case 'debug':
    case 'endgroup':
      return undefined
    case 'group':
      return { kind: 'group', text: unescape(data) }
    case 'warning':
    case 'error':
    case 'notice':
      return { kind: name, text: unescape(data) }
    default:
      return { kind: 'info', text }
  }
}

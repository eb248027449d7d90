// Runs the committed bundle the way a GitHub runner does: inputs as INPUT_* variables, and
// outputs, saved state and the job summary written to the files the runner provides.
import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const NODE24 = 'node_modules/node24/bin/node'

export interface ActionRun {
  code: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
}

/** Parses the runner's file command format (name=value lines and name<<DELIMITER blocks). */
export function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1)
      result[heredoc[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      const eq = lines[i].indexOf('=')
      result[lines[i].slice(0, eq)] = lines[i].slice(eq + 1)
    }
  }
  return result
}

export interface RunActionOptions {
  node?: string
  /** The bundle to run; default dist/index.js of the working directory. */
  script?: string
  env?: Record<string, string>
  /** State saved by the main step: makes this run the post step. */
  state?: Record<string, string>
  timeoutMs?: number
  /** Aborting it kills the bundle with `killSignal` (a cancelled job, a runner that dies). */
  signal?: AbortSignal
  /** Default SIGTERM, as Node's child_process sends. */
  killSignal?: NodeJS.Signals
}

/** What a runner gives a step: INPUT_* and STATE_* variables, and files for outputs,
 * state and the job summary, read back once the step has ended. */
export interface RunnerWorkspace {
  env: NodeJS.ProcessEnv
  read(): { outputs: Record<string, string>; state: Record<string, string>; summary: string }
  remove(): void
}

export function runnerWorkspace(
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; state?: Record<string, string> } = {}
): RunnerWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'openemr-redis-run-'))
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary')
  }
  for (const f of Object.values(files)) writeFileSync(f, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...options.env,
    ...files
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  for (const [k, v] of Object.entries(options.state ?? {})) env[`STATE_${k}`] = v
  return {
    env,
    read: () => ({
      outputs: parseFileCommands(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
      state: parseFileCommands(readFileSync(files.GITHUB_STATE, 'utf8')),
      summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8')
    }),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A private copy of dist/: long suites run the bundle as it was when they started, even if
 * someone rebuilds dist/ in the same working tree meanwhile.
 */
export function snapshotBundle(): { script: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'openemr-redis-bundle-'))
  cpSync('dist', dir, { recursive: true })
  return {
    script: join(dir, 'index.js'),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

export async function runAction(
  inputs: Record<string, string>,
  options: RunActionOptions = {}
): Promise<ActionRun> {
  const workspace = runnerWorkspace(inputs, options)
  const env = workspace.env
  try {
    const { code, stdout, stderr } = await new Promise<{
      code: number
      stdout: string
      stderr: string
    }>(resolve => {
      execFile(
        options.node ?? NODE24,
        [options.script ?? 'dist/index.js'],
        {
          env,
          timeout: options.timeoutMs ?? 600_000,
          maxBuffer: 64 * 1024 * 1024,
          signal: options.signal,
          killSignal: options.killSignal
        },
        (error, stdout, stderr) =>
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stdout,
            stderr
          })
      )
    })
    return {
      code,
      stdout,
      stderr,
      ...workspace.read()
    }
  } finally {
    workspace.remove()
  }
}

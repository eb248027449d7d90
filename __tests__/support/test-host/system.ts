// Running the machine's own tools (ip, nft, nsenter, systemd-nspawn...) from the harness.
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { delimiter, join } from 'node:path'

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

// Test runners often start with a PATH lacking the sbin directories where ip and nft live.
const searchPath = (): string[] => [
  ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
  '/usr/local/sbin',
  '/usr/sbin',
  '/sbin',
  '/usr/bin',
  '/bin'
]

export function findBinary(name: string): string | undefined {
  for (const dir of searchPath()) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

function binary(name: string): string {
  const path = findBinary(name)
  if (!path) throw new Error(`${name} not found in PATH or the sbin directories`)
  return path
}

export interface RunOptions {
  input?: string
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
}

/** Runs a command to completion; never rejects for a non-zero exit (see `check`). */
export function run(
  command: string,
  args: string[],
  options: RunOptions = {}
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary(command), args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    let timer: NodeJS.Timeout | undefined
    if (options.timeoutMs) {
      timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    }
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({
        code: code ?? 128 + (signal ? osConstants.signals[signal] : 0),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString()
      })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
}

/** Like `run`, but a non-zero exit is an error that carries the command's stderr. */
export async function check(command: string, args: string[], options: RunOptions = {}) {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`
    )
  }
  return result.stdout
}

/** Synchronous and silent: for exit handlers, where nothing asynchronous runs any more. */
export function runSync(command: string, args: string[]): number {
  const path = findBinary(command)
  if (!path) return 127
  return spawnSync(path, args, { stdio: 'ignore', timeout: 10_000 }).status ?? 1
}

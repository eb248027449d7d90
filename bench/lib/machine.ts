// Where and on what the numbers were taken: they mean little without it.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { NODE24 } from '../../__tests__/support/run-action.js'

export interface Machine {
  date: string
  nproc: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  os: string
  node: { bench: string; action: string }
  git: { commit: string; dirty: boolean }
  /** sha256 of the dist/index.js that was run (the committed bundle, or a newer local build). */
  distSha256: string
}

const text = (command: string, args: string[]) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

export function describeMachine(): Machine {
  const osRelease = readFileSync('/etc/os-release', 'utf8')
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown'
  return {
    date: new Date().toISOString(),
    nproc: Number(text('nproc', [])) || cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os: pretty,
    node: { bench: process.version, action: text(NODE24, ['--version']) },
    git: {
      commit: text('git', ['rev-parse', 'HEAD']),
      dirty: text('git', ['status', '--porcelain', '--', 'src', 'dist']) !== ''
    },
    distSha256: createHash('sha256').update(readFileSync('dist/index.js')).digest('hex')
  }
}

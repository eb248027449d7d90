// What this process has created on the machine, written down as it is created, so that it can
// be undone on stop, on exit, and — when a test process died without cleaning up — by the next
// harness that starts (`reapStale`).
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runSync } from './system.js'

export interface HostRecord {
  name: string
  netns: string
  veth: string
  dir: string
  nspawnPid?: number
  leaderPid?: number
}

export interface OwnerRecord {
  pid: number
  startTime: string
  bridges: string[]
  hosts: HostRecord[]
}

export const stateRoot = () => join(tmpdir(), 'openemr-redis-action-test-hosts')

/** Start time in clock ticks since boot: tells a live owner from a reused pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

const processName = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

export class Registry {
  readonly record: OwnerRecord
  readonly dir: string

  constructor() {
    const startTime = processStartTime(process.pid) ?? '0'
    this.record = { pid: process.pid, startTime, bridges: [], hosts: [] }
    this.dir = join(stateRoot(), `${process.pid}-${startTime}`)
  }

  save(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    writeFileSync(join(this.dir, 'resources.json'), JSON.stringify(this.record, null, 2))
  }

  addBridge(bridge: string): void {
    if (!this.record.bridges.includes(bridge)) this.record.bridges.push(bridge)
    this.save()
  }

  removeBridge(bridge: string): void {
    this.record.bridges = this.record.bridges.filter(b => b !== bridge)
    this.save()
  }

  addHost(host: HostRecord): void {
    this.record.hosts.push(host)
    this.save()
  }

  updateHost(name: string, change: Partial<HostRecord>): void {
    const host = this.record.hosts.find(h => h.name === name)
    if (host) Object.assign(host, change)
    this.save()
  }

  removeHost(name: string): void {
    this.record.hosts = this.record.hosts.filter(h => h.name !== name)
    this.save()
  }

  /** Removes the state directory once nothing is left in it to undo. */
  dropIfEmpty(): void {
    if (this.record.hosts.length === 0 && this.record.bridges.length === 0) {
      rmSync(this.dir, { recursive: true, force: true })
      removeRootIfEmpty()
    }
  }
}

/** Alive and not a zombie (a killed child of this very process stays one until it exits). */
const running = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** Undoes everything a record lists, synchronously (usable from a process 'exit' handler). */
export function undoSync(record: OwnerRecord, dir: string): void {
  const killed: number[] = []
  for (const host of record.hosts) {
    for (const pid of [host.nspawnPid, host.leaderPid]) {
      // Only signal what is still the process we started, not a pid reused since.
      const name = pid ? processName(pid) : undefined
      if (pid && (name === 'systemd-nspawn' || name === 'systemd')) {
        try {
          process.kill(pid, 'SIGKILL')
          killed.push(pid)
        } catch {
          // already gone
        }
      }
    }
  }
  // Let the hosts die (and their private overlay mounts with them) before removing files.
  for (let waited = 0; waited < 3_000 && killed.some(running); waited += 50) {
    sleepSync(50)
  }
  for (const host of record.hosts) {
    runSync('ip', ['link', 'del', host.veth])
    runSync('ip', ['netns', 'del', host.netns])
    rmSync(host.dir, { recursive: true, force: true })
  }
  for (const bridge of record.bridges) runSync('ip', ['link', 'del', bridge])
  rmSync(dir, { recursive: true, force: true })
  removeRootIfEmpty()
  releaseRunNetns()
}

function removeRootIfEmpty(): void {
  try {
    if (readdirSync(stateRoot()).length === 0) rmSync(stateRoot(), { recursive: true })
  } catch {
    // absent, or another harness is using it
  }
}

/** Cleans up after harness processes that died without stopping their hosts. */
export function reapStale(): void {
  let entries: string[]
  try {
    entries = readdirSync(stateRoot())
  } catch {
    return
  }
  for (const entry of entries) {
    const match = /^(\d+)-(\d+)$/.exec(entry)
    if (!match) continue
    const [, pid, startTime] = match
    if (Number(pid) === process.pid || processStartTime(Number(pid)) === startTime) continue
    const dir = join(stateRoot(), entry)
    try {
      const record = JSON.parse(readFileSync(join(dir, 'resources.json'), 'utf8')) as OwnerRecord
      undoSync(record, dir)
    } catch {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

// `ip netns add` bind-mounts /run/netns onto itself the first time it runs on a machine, and
// nothing ever removes that mount. The harness notes when it was the one to create it and
// takes it away again once no namespace is left in it, so the machine's mount table ends up
// as it was.
const runNetns = '/run/netns'
const runNetnsMarker = () => join(stateRoot(), 'run-netns-mounted-by-harness')

export function isMountPoint(path: string): boolean {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
  return mountinfo.split('\n').some(line => line.split(' ')[4] === path)
}

/** Call before each `ip netns add`. */
export function noteRunNetns(): void {
  if (isMountPoint(runNetns) || existsSync(runNetnsMarker())) return
  mkdirSync(stateRoot(), { recursive: true, mode: 0o700 })
  writeFileSync(runNetnsMarker(), JSON.stringify({ createdDir: !existsSync(runNetns) }))
}

export function releaseRunNetns(): void {
  let marker: { createdDir?: boolean }
  try {
    marker = JSON.parse(readFileSync(runNetnsMarker(), 'utf8')) as { createdDir?: boolean }
  } catch {
    return
  }
  let empty: boolean
  try {
    empty = readdirSync(runNetns).length === 0
  } catch {
    empty = true
  }
  if (!empty) return
  if (isMountPoint(runNetns)) runSync('umount', [runNetns])
  if (marker.createdDir && existsSync(runNetns)) rmdirSync(runNetns)
  rmSync(runNetnsMarker(), { force: true })
  removeRootIfEmpty()
}

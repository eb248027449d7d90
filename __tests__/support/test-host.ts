// Disposable stand-in for the EC2 Ubuntu instance: a Debian 12 host with real systemd and
// OpenSSH, booted by systemd-nspawn in its own network namespace at the private address moto
// gave the instance. See test-host/ for the parts and scripts/test-host/ for the shell halves.
import { spawn, type ChildProcess } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { Socket } from 'node:net'
import { release } from 'node:os'
import { join } from 'node:path'
import {
  startAptProxy,
  machineAptConfig,
  mirrorsFromSources,
  upstreamProxy
} from './test-host/apt-proxy.js'
import type { AptProxy } from './test-host/apt-proxy.js'
import { cloudConfigFiles } from './test-host/cloud-config.js'
import {
  createBridge,
  createHostNetwork,
  linkExists,
  shortHash,
  subnetOf
} from './test-host/network.js'
import type { Subnet } from './test-host/network.js'
import {
  noteRunNetns,
  reapStale,
  Registry,
  releaseRunNetns,
  undoSync
} from './test-host/registry.js'
import { ensureRootfs, scriptsDir } from './test-host/rootfs.js'
import type { Rootfs } from './test-host/rootfs.js'
import { NFT_TABLE, renderNftables } from './test-host/security-group.js'
import type { IngressRule } from './test-host/security-group.js'
import { diffSnapshots } from './test-host/snapshot.js'
import type { MachineSnapshot } from './test-host/snapshot.js'
import { findBinary, run } from './test-host/system.js'
import type { CommandResult } from './test-host/system.js'

export { rulesFromSecurityGroups, renderNftables } from './test-host/security-group.js'
export type { IngressRule, IngressProtocol } from './test-host/security-group.js'
export { snapshotMachine, diffSnapshots } from './test-host/snapshot.js'
export type { MachineSnapshot } from './test-host/snapshot.js'
export { cloudConfigFiles } from './test-host/cloud-config.js'
export type { CommandResult } from './test-host/system.js'

export interface TestHostOptions {
  /** Short and unique on the machine: [a-z0-9-], at most 24 characters. */
  name: string
  /** The instance's private IPv4 address, e.g. '10.20.1.4'. */
  address: string
  /** Prefix length of its subnet, e.g. 24. The subnet's .1 is the runner's address on it. */
  prefix: number
  /** Created like the default user of an Ubuntu cloud image (passwordless sudo), e.g. 'ubuntu'. */
  loginUser: string
  /** A #cloud-config document; ssh_authorized_keys and ssh_keys are applied as cloud-init would. */
  userData?: string
  /** More lines for the login user's authorized_keys. */
  extraAuthorizedKeys?: string[]
  /** Cap on waiting for sshd; default 60 s. */
  bootTimeoutMs?: number
}

export interface ExecOptions {
  input?: string
  timeoutMs?: number
}

export interface TestHost {
  readonly name: string
  readonly address: string
  readonly prefix: number
  /** The subnet's .1: the root namespace's address on the host's network. */
  readonly router: string
  readonly hostname: string
  readonly loginUser: string
  /** Network namespace name; /run/netns/<netns>. */
  readonly netns: string
  /** systemd-nspawn's pid (a child of this process). */
  readonly pid: number
  /** The host's PID 1 (systemd), as seen from the machine. */
  readonly leaderPid: number
  readonly timings: { rootfsMs: number; prepareMs: number; bootMs: number }
  /** Top-level user-data keys the harness does not apply (cloud-init would). */
  readonly ignoredUserDataKeys: string[]
  /** The proxy the host's apt uses; `denied` lists every request it refused. */
  readonly aptProxy: { url: string; denied: string[] }
  /** Runs `sh -c command` as root inside the booted host. */
  exec(command: string, options?: ExecOptions): Promise<CommandResult>
  /** Replaces the host's inbound firewall with the given security group rules. */
  applySecurityGroup(rules: IngressRule[]): Promise<void>
  /** Removes the security group firewall (everything inbound allowed again). */
  clearSecurityGroup(): Promise<void>
  /** Everything the host printed on its console so far. */
  consoleLog(): string
  /** Powers the host off and removes all it created; safe to call more than once. */
  stop(): Promise<void>
}

const REQUIRED_BINARIES = [
  'debootstrap',
  'systemd-nspawn',
  'nft',
  'ip',
  'unshare',
  'nsenter',
  'mount',
  'umount',
  'chroot',
  'flock',
  'bash'
]

/** Why test hosts cannot run on this machine, or undefined when they can. */
export function testHostPrerequisites(): string | undefined {
  if (process.platform !== 'linux') return `test hosts need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'test hosts need root (namespaces, bridges, systemd-nspawn)'
  const missing = REQUIRED_BINARIES.filter(b => !findBinary(b))
  if (missing.length) {
    return `test hosts need ${missing.join(', ')} (apt-get install debootstrap systemd-container nftables iproute2 util-linux)`
  }
  const filesystems = readFileSync('/proc/filesystems', 'utf8')
  if (
    !/\toverlay$/m.test(filesystems) &&
    !existsSync(`/lib/modules/${release()}/kernel/fs/overlayfs`)
  ) {
    return 'test hosts need overlayfs (modprobe overlay)'
  }
  return undefined
}

/**
 * Removes what earlier test processes left behind when they died without stopping their hosts
 * (also done on the first start of a host; call it first when comparing machine snapshots).
 */
export function cleanUpAfterCrashedRuns(): void {
  reapStale()
}

/** Every netns, veth and bridge name this process has created (for `machineChanges`). */
const createdNames = new Set<string>()
const HARNESS_NAME = /\b(?:oer-[a-z0-9-]+|oerb-[0-9a-f]{8}|oev-[0-9a-f]{8})\b/g

/**
 * What changed on the machine between two snapshots, leaving out the namespaces, links, routes
 * and mounts of test hosts that other test processes (running in parallel) own.
 */
export function machineChanges(before: MachineSnapshot, after: MachineSnapshot): string[] {
  const foreign = (item: string) => {
    const names = item.match(HARNESS_NAME) ?? []
    return names.length > 0 && names.every(name => !createdNames.has(name))
  }
  // /run/netns is mounted while any process has a namespace; others may explain it coming or going.
  const othersActive = [...before.netns, ...after.netns].some(foreign)
  return diffSnapshots(
    before,
    after,
    item => foreign(item) || (othersActive && item.startsWith('/run/netns '))
  )
}

interface SubnetEntry {
  subnet: Subnet
  hosts: Set<string>
  proxy: Promise<AptProxy>
}

/** stop() of every host this process has begun to start and not yet stopped. */
const stoppers = new Map<string, () => Promise<void>>()
const subnets = new Map<string, SubnetEntry>()
const subnetTeardowns = new Map<string, Promise<void>>()
let registry: Registry | undefined

function ownRegistry(): Registry {
  if (registry) return registry
  reapStale()
  registry = new Registry()
  const current = registry
  const undo = () => undoSync(current.record, current.dir)
  process.on('exit', undo)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      undo()
      process.off(signal, handler)
      process.kill(process.pid, signal)
    }
    process.on(signal, handler)
  }
  return registry
}

async function joinSubnet(subnet: Subnet, host: string, rootfs: string): Promise<AptProxy> {
  await subnetTeardowns.get(subnet.cidr)
  let entry = subnets.get(subnet.cidr)
  if (!entry) {
    const proxy = (async () => {
      if (await linkExists(subnet.bridge)) {
        throw new Error(
          `bridge ${subnet.bridge} for ${subnet.cidr} belongs to another test process; give each test file its own subnet`
        )
      }
      ownRegistry().addBridge(subnet.bridge)
      createdNames.add(subnet.bridge)
      await createBridge(subnet)
      const sources = ['etc/apt/sources.list', 'etc/apt/sources.list.d/debian.sources']
        .map(p => join(rootfs, p))
        .filter(p => existsSync(p))
        .map(p => readFileSync(p, 'utf8'))
        .join('\n')
      const aptConfig = await machineAptConfig()
      return startAptProxy(subnet.router, mirrorsFromSources(sources), host =>
        upstreamProxy(aptConfig, host.replace(/:\d+$/, ''))
      )
    })()
    entry = { subnet, hosts: new Set(), proxy }
    subnets.set(subnet.cidr, entry)
    proxy.catch(() => undefined)
  }
  entry.hosts.add(host)
  try {
    return await entry.proxy
  } catch (error) {
    await leaveSubnet(subnet, host)
    throw error
  }
}

async function leaveSubnet(subnet: Subnet, host: string): Promise<void> {
  const entry = subnets.get(subnet.cidr)
  if (!entry || !entry.hosts.delete(host) || entry.hosts.size > 0) return
  subnets.delete(subnet.cidr)
  const teardown = (async () => {
    const proxy = await entry.proxy.catch(() => undefined)
    await proxy?.close()
    if (registry?.record.bridges.includes(subnet.bridge)) {
      await run('ip', ['link', 'del', subnet.bridge])
      registry.removeBridge(subnet.bridge)
    }
  })()
  subnetTeardowns.set(subnet.cidr, teardown)
  await teardown
  if (subnetTeardowns.get(subnet.cidr) === teardown) subnetTeardowns.delete(subnet.cidr)
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** Resolves when something on address:22 sends an SSH banner. */
function sshBanner(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = new Socket()
    let data = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.on('error', () => done(false))
    socket.on('data', chunk => {
      data += chunk.toString()
      if (data.includes('\n')) done(data.startsWith('SSH-'))
    })
    socket.connect(22, address)
  })
}

function childrenOf(pid: number): number[] {
  const children = new Set<number>()
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
      for (const child of text.split(/\s+/).filter(Boolean)) children.add(Number(child))
    }
  } catch {
    // process gone
  }
  return [...children]
}

const processName = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** nspawn's child that runs the host's systemd as PID 1. */
function containerLeader(nspawnPid: number): number | undefined {
  return childrenOf(nspawnPid).find(pid => processName(pid) === 'systemd')
}

/** Whether the child has exited within `ms`. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise(resolve => {
    const onExit = () => {
      clearTimeout(timer)
      resolve(true)
    }
    const timer = setTimeout(() => {
      child.off('exit', onExit)
      resolve(false)
    }, ms)
    child.once('exit', onExit)
  })
}

const NAME = /^[a-z0-9][a-z0-9-]{0,23}$/
const netnsOf = (host: string) => `oer-${host}`
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export async function startTestHost(options: TestHostOptions): Promise<TestHost> {
  const reason = testHostPrerequisites()
  if (reason) throw new Error(reason)
  const { name, address, prefix, loginUser } = options
  if (!NAME.test(name)) throw new Error(`test host name ${JSON.stringify(name)} must match ${NAME}`)
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(loginUser)) throw new Error(`bad login user ${loginUser}`)
  if (stoppers.has(name)) throw new Error(`test host ${name} is already running`)
  const subnet = subnetOf(address, prefix)
  const cloud = cloudConfigFiles(options.userData)
  const netns = netnsOf(name)
  const veth = `oev-${shortHash(netns)}`

  // Only what this call has checked is free may be torn down later as its own.
  let settle!: () => void
  const settled = new Promise<void>(resolve => (settle = resolve))
  let abandoned = false
  stoppers.set(name, () => {
    abandoned = true
    return settled
  })
  const started = Date.now()
  let rootfs: Rootfs
  try {
    // A crashed earlier run may hold this very name: reap before deciding it is taken.
    ownRegistry()
    if (existsSync(`/run/netns/${netns}`) || (await linkExists(veth))) {
      throw new Error(
        `test host ${name} exists already (another test process?); choose another name`
      )
    }
    rootfs = await ensureRootfs()
    if (abandoned) throw new Error(`test host ${name} was stopped while starting`)
  } catch (error) {
    stoppers.delete(name)
    settle()
    throw error
  }
  const owner = ownRegistry()
  const dir = join(owner.dir, 'hosts', name)
  const hostname = `ip-${address.replaceAll('.', '-')}`
  owner.addHost({ name, netns, veth, dir })
  createdNames.add(netns).add(veth)

  let child: ChildProcess | undefined
  let leaderPid: number | undefined
  let proxy: AptProxy | undefined
  let stopping: Promise<void> | undefined
  const consolePath = join(dir, 'console.log')
  const consoleLog = () => {
    try {
      return readFileSync(consolePath, 'utf8')
    } catch {
      return ''
    }
  }
  const stillWanted = () => {
    if (stopping) throw new Error(`test host ${name} was stopped while starting`)
  }

  const stop = () =>
    (stopping ??= (async () => {
      // A stop during start-up lets start-up notice and give up first, so the two never race
      // over the same namespace and links.
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await settled
      if (child && child.exitCode === null && child.signalCode === null) {
        // nspawn turns SIGTERM into SIGRTMIN+3 for the host's systemd: an orderly poweroff.
        child.kill('SIGTERM')
      }
      if (child && !(await waitExit(child, 10_000))) {
        child.kill('SIGKILL')
        if (leaderPid && processName(leaderPid) === 'systemd') process.kill(leaderPid, 'SIGKILL')
        await waitExit(child, 5_000)
      }
      await run('ip', ['link', 'del', veth])
      // The next host at this address (moto reuses them) must not inherit this one's MAC in
      // any neighbour cache of the subnet, the runner's or another host's; it announces itself
      // too (createHostNetwork). A peer still starting has no namespace yet, and nothing to forget.
      const peers = [...(subnets.get(subnet.cidr)?.hosts ?? [])].filter(h => h !== name)
      await Promise.all([
        run('ip', ['neigh', 'flush', 'to', address]),
        ...peers.map(h => run('ip', ['-n', netnsOf(h), 'neigh', 'flush', 'to', address]))
      ])
      if (existsSync(`/run/netns/${netns}`)) await run('ip', ['netns', 'del', netns])
      rmSync(dir, { recursive: true, force: true })
      owner.removeHost(name)
      stoppers.delete(name)
      await leaveSubnet(subnet, name)
      releaseRunNetns()
      owner.dropIfEmpty()
    })())
  stoppers.set(name, stop)

  try {
    proxy = await joinSubnet(subnet, name, rootfs.path)
    stillWanted()
    noteRunNetns()
    await createHostNetwork({ netns, veth }, subnet, address)
    stillWanted()

    mkdirSync(join(dir, 'seed/ssh'), { recursive: true, mode: 0o700 })
    // The upper directory's own mode becomes that of the host's / (0755, as on any system).
    for (const sub of ['upper', 'work', 'merged']) mkdirSync(join(dir, sub), { mode: 0o755 })
    const authorized = [...cloud.authorizedKeys, ...(options.extraAuthorizedKeys ?? [])]
    writeFileSync(join(dir, 'seed/authorized_keys'), authorized.map(k => `${k.trim()}\n`).join(''))
    for (const key of cloud.hostKeys) {
      writeFileSync(join(dir, 'seed/ssh', key.name), key.content, { mode: 0o600 })
    }
    writeFileSync(join(dir, 'seed/apt-proxy.conf'), `Acquire::http::Proxy "${proxy.url}";\n`)

    const prepareMs = Date.now() - started - rootfs.ms
    const bootStarted = Date.now()
    const log = openSync(consolePath, 'a')
    child = spawn(
      findBinary('unshare') ?? 'unshare',
      ['--mount', '--propagation', 'private', '--', 'bash', join(scriptsDir, 'boot-host.sh')],
      {
        stdio: ['ignore', log, log],
        env: {
          PATH,
          LANG: 'C.UTF-8',
          TEST_HOST_ROOTFS: rootfs.path,
          TEST_HOST_DIR: dir,
          TEST_HOST_MACHINE: netns,
          TEST_HOST_HOSTNAME: hostname,
          TEST_HOST_NETNS: `/run/netns/${netns}`,
          TEST_HOST_ADDRESS: address,
          TEST_HOST_USER: loginUser
        }
      }
    )
    closeSync(log)
    const nspawnPid = child.pid
    if (!nspawnPid) throw new Error('could not start systemd-nspawn')
    owner.updateHost(name, { nspawnPid })

    const deadline = bootStarted + (options.bootTimeoutMs ?? 60_000)
    let ready = false
    while (!ready) {
      stillWanted()
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`host ${name} exited while booting (${child.exitCode ?? child.signalCode})`)
      }
      if (Date.now() > deadline)
        throw new Error(`host ${name}: sshd not answering on ${address}:22`)
      ready = await sshBanner(address, 1_000)
      if (!ready) await sleep(50)
    }
    const bootMs = Date.now() - bootStarted
    leaderPid = containerLeader(nspawnPid)
    if (!leaderPid)
      throw new Error(`host ${name}: cannot find its systemd under nspawn ${nspawnPid}`)
    owner.updateHost(name, { leaderPid })
    const leader = leaderPid

    const exec = (command: string, execOptions: ExecOptions = {}) =>
      run(
        'nsenter',
        [
          `--target=${leader}`,
          '--mount',
          '--uts',
          '--ipc',
          '--net',
          '--pid',
          '--root',
          '--wd',
          '--',
          '/usr/bin/env',
          '-i',
          `PATH=${PATH}`,
          'HOME=/root',
          'LANG=C.UTF-8',
          '/bin/sh',
          '-c',
          command
        ],
        execOptions
      )

    const nft = async (script: string) => {
      const result = await run('nsenter', [`--net=/run/netns/${netns}`, '--', 'nft', '-f', '-'], {
        input: script
      })
      if (result.code !== 0) throw new Error(`nft in ${name}: ${result.stderr.trim()}`)
    }

    const hostProxy = proxy
    const host: TestHost = {
      name,
      address,
      prefix,
      router: subnet.router,
      hostname,
      loginUser,
      netns,
      pid: nspawnPid,
      leaderPid: leader,
      timings: { rootfsMs: rootfs.ms, prepareMs, bootMs },
      ignoredUserDataKeys: cloud.ignoredKeys,
      aptProxy: { url: hostProxy.url, denied: hostProxy.denied },
      exec,
      applySecurityGroup: rules => nft(renderNftables(rules)),
      clearSecurityGroup: () => nft(`table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`),
      consoleLog,
      stop
    }
    settle()
    return host
  } catch (error) {
    const tail = consoleLog().split('\n').slice(-30).join('\n')
    settle()
    await stop()
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(tail ? `${message}\n--- console of ${name} ---\n${tail}` : message, {
      cause: error
    })
  }
}

/** Stops every test host this process started (for afterAll). */
export async function stopAllTestHosts(): Promise<void> {
  await Promise.all([...stoppers.values()].map(stop => stop()))
}

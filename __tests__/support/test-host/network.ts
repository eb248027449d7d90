// A test host's network, built from plain iproute2: per subnet a bridge in the root namespace
// holding the subnet's .1 (the runner's address there), per host a network namespace joined
// to the bridge by a veth pair.
import { createHash } from 'node:crypto'
import { isIPv4 } from 'node:net'
import { check, run } from './system.js'

export interface Subnet {
  cidr: string
  prefix: number
  /** The .1 of the subnet, on the bridge: the hosts' default route and the proxy's address. */
  router: string
  bridge: string
}

const toNumber = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
const toAddress = (n: number) => [24, 16, 8, 0].map(shift => (n >>> shift) & 255).join('.')
const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

const PRIVATE = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16]
] as const

/** Interface names are limited to 15 characters, so long names become a short hash. */
export const shortHash = (text: string) =>
  createHash('sha256').update(text).digest('hex').slice(0, 8)

/** The subnet `address/prefix` lies in; throws for anything a test host must not use. */
export function subnetOf(address: string, prefix: number): Subnet {
  if (!isIPv4(address)) throw new Error(`test host address ${address} is not IPv4`)
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
    throw new Error(`test host prefix /${prefix} must be between /8 and /30`)
  }
  const ip = toNumber(address)
  const network = (ip & mask(prefix)) >>> 0
  const broadcast = (network | ~mask(prefix)) >>> 0
  const inPrivate = PRIVATE.some(
    ([base, bits]) => prefix >= bits && (network & mask(bits)) >>> 0 === toNumber(base)
  )
  if (!inPrivate)
    throw new Error(`test host subnet of ${address}/${prefix} is not private (RFC 1918)`)
  const router = network + 1
  if (ip === network || ip === broadcast || ip === router) {
    throw new Error(`${address} is the network, broadcast or router (.1) address of its subnet`)
  }
  const cidr = `${toAddress(network)}/${prefix}`
  return { cidr, prefix, router: toAddress(router), bridge: `oerb-${shortHash(cidr)}` }
}

export function cidrsOverlap(a: string, b: string): boolean {
  const [aIp, aBits] = a.split('/')
  const [bIp, bBits] = b.split('/')
  const bits = Math.min(Number(aBits ?? 32), Number(bBits ?? 32))
  return (toNumber(aIp) & mask(bits)) >>> 0 === (toNumber(bIp) & mask(bits)) >>> 0
}

interface RouteEntry {
  dst: string
  dev?: string
}

/** Refuses a subnet that any existing route of this machine already covers. */
async function assertSubnetFree(subnet: Subnet): Promise<void> {
  const routes = JSON.parse(
    await check('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])
  ) as RouteEntry[]
  for (const route of routes) {
    if (route.dst === 'default' || !/^\d/.test(route.dst)) continue
    if (route.dev === subnet.bridge) continue
    if (cidrsOverlap(route.dst.includes('/') ? route.dst : `${route.dst}/32`, subnet.cidr)) {
      throw new Error(
        `test host subnet ${subnet.cidr} overlaps this machine's route ${route.dst} on ${route.dev}; choose another subnet`
      )
    }
  }
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).code === 0
}

export async function createBridge(subnet: Subnet): Promise<void> {
  await assertSubnetFree(subnet)
  await check('ip', ['link', 'add', 'name', subnet.bridge, 'type', 'bridge'])
  await check('ip', ['addr', 'add', `${subnet.router}/${subnet.prefix}`, 'dev', subnet.bridge])
  await check('ip', ['link', 'set', subnet.bridge, 'up'])
}

export interface HostLink {
  netns: string
  /** Root-namespace end of the veth pair; the other end is eth0 inside. */
  veth: string
}

export async function createHostNetwork(
  link: HostLink,
  subnet: Subnet,
  address: string
): Promise<void> {
  const inside = (...args: string[]) => check('ip', ['-n', link.netns, ...args])
  await check('ip', ['netns', 'add', link.netns])
  await check('ip', [
    'link',
    'add',
    link.veth,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    link.netns
  ])
  await check('ip', ['link', 'set', link.veth, 'master', subnet.bridge, 'up'])
  await inside('link', 'set', 'lo', 'up')
  await inside('addr', 'add', `${address}/${subnet.prefix}`, 'dev', 'eth0')
  // moto hands a terminated instance's address to the next one. Without an announcement the
  // runner and the other hosts keep sending to the old host's MAC while their neighbour entry
  // counts as reachable (up to about 30 s), and the new host looks dead for that long.
  await check('ip', [
    'netns',
    'exec',
    link.netns,
    '/bin/sh',
    '-c',
    'echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_notify'
  ])
  await inside('link', 'set', 'eth0', 'up')
  await inside('route', 'add', 'default', 'via', subnet.router)
}

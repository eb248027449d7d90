import { isIPv4 } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { SshVia } from '../inputs.js'

/** AWS's own "what is my address" service; overridable so tests can serve it locally. */
export const CHECKIP_URL = 'https://checkip.amazonaws.com'
export const CHECKIP_URL_ENV = 'OPENEMR_REDIS_CHECKIP_URL'
const CHECKIP_TIMEOUT_MS = 3000

export type FetchLike = (
  url: string,
  init: { signal: AbortSignal }
) => Promise<{
  ok: boolean
  status: number
  text(): Promise<string>
}>

export type InterfaceLister = typeof networkInterfaces

export interface ResolveSshCidrOptions {
  sshVia: SshVia
  /** The VPC's IPv4 block(s); with ssh-via private the runner's address must be inside one. */
  vpcCidr: string | string[]
  fetchImpl?: FetchLike
  interfaces?: InterfaceLister
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

export class RunnerAddressError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RunnerAddressError'
  }
}

/**
 * The CIDR for the temporary SSH rule: ssh-cidr as given, else the runner's own address as
 * a /32 — its public address (asked of AWS's check-IP service) for ssh-via public, its own
 * interface address inside the VPC for ssh-via private.
 */
export async function resolveSshCidr(
  sshCidr: string,
  options: ResolveSshCidrOptions
): Promise<string> {
  if (sshCidr !== '' && sshCidr.toLowerCase() !== 'auto') return sshCidr
  if (options.sshVia === 'public') return publicAddress(options)
  return privateAddress(options)
}

async function publicAddress(options: ResolveSshCidrOptions): Promise<string> {
  const env = options.env ?? process.env
  const url = env[CHECKIP_URL_ENV] || CHECKIP_URL
  const timeoutMs = options.timeoutMs ?? CHECKIP_TIMEOUT_MS
  const fetchImpl = options.fetchImpl ?? (fetch as unknown as FetchLike)
  const fix =
    "Set ssh-cidr to the runner's public address (or its egress range, /16 or narrower), or use ssh-via: private on a self-hosted runner inside the VPC."
  let body: string
  try {
    const answer = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) })
    if (!answer.ok)
      throw new RunnerAddressError(
        `Could not learn the runner's public address: ${url} answered HTTP ${answer.status}. ${fix}`
      )
    body = (await answer.text()).trim()
  } catch (error) {
    if (error instanceof RunnerAddressError) throw error
    // Duck-typed: the abort reason is a DOMException, not always an Error of this realm.
    const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown }
    const why =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${timeoutMs / 1000} s`
        : typeof message === 'string'
          ? message
          : String(error)
    throw new RunnerAddressError(
      `Could not learn the runner's public address from ${url} (${why}). ${fix}`
    )
  }
  if (!isIPv4(body))
    throw new RunnerAddressError(
      `Could not learn the runner's public address: ${url} answered '${body.slice(0, 60)}', not an IPv4 address. ${fix}`
    )
  return `${body}/32`
}

function privateAddress(options: ResolveSshCidrOptions): string {
  const blocks = (Array.isArray(options.vpcCidr) ? options.vpcCidr : [options.vpcCidr]).filter(
    b => b !== ''
  )
  const list = (options.interfaces ?? networkInterfaces)()
  const own = Object.keys(list)
    .sort()
    .flatMap(name => list[name] ?? [])
    .filter(a => a.family === 'IPv4' && !a.internal)
    .map(a => a.address)
  const inside = own.find(address => blocks.some(block => cidrContains(block, address)))
  if (!inside)
    throw new RunnerAddressError(
      `ssh-via is private but none of the runner's addresses (${own.join(', ') || 'none'}) is inside the VPC (${blocks.join(', ')}). Run on a self-hosted runner inside the VPC, or set ssh-cidr to the address the runner reaches the VPC from.`
    )
  return `${inside}/32`
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
}

/** Whether an IPv4 address lies inside an IPv4 CIDR block. */
export function cidrContains(block: string, address: string): boolean {
  const [base, bits] = block.split('/')
  const prefix = Number(bits)
  if (!isIPv4(base) || !isIPv4(address) || !(prefix >= 0 && prefix <= 32)) return false
  const size = 2 ** (32 - prefix)
  return Math.floor(ipv4ToNumber(base) / size) === Math.floor(ipv4ToNumber(address) / size)
}

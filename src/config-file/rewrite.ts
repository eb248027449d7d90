import { isIPv4 } from 'node:net'
import { configWarnings, lines } from './warnings.js'

/** Where PHP sessions should go: the Redis host's private address and port. */
export interface RedisEndpoint {
  ip: string
  port: number
}

/** One rewritten line; `line` counts from 1, `before`/`after` carry no line terminator. */
export interface LineChange {
  line: number
  before: string
  after: string
}

export interface RewriteResult {
  text: string
  changed: boolean
  changes: LineChange[]
  warnings: string[]
}

/** Redis' own default, which phpredis assumes when a save_path URL names no port. */
export const DEFAULT_REDIS_PORT = 6379

/** The placeholders the guide has shipped in the OpenEMR repository over time. */
export const PLACEHOLDERS = ['<<REDIS_IP>>', '<<REDIS IP HERE>>'] as const

/** What the rewrite recognises, in words a user can search the file for. */
export const LOOKED_FOR = [
  ...PLACEHOLDERS,
  'tcp://<IPv4 address>[:port] (written by an earlier run)',
  'tcp:\\/\\/<IPv4 address>[:port] (the same, escaped for sed)'
] as const

/** The file holds nothing the rewrite could point at Redis; nothing may be committed. */
export class ConfigRewriteError extends Error {
  constructor(readonly lookedFor: readonly string[] = LOOKED_FOR) {
    super(
      `found nothing to rewrite: the file contains none of ${lookedFor.join(', ')}. ` +
        'Put <<REDIS_IP>> where the Redis address belongs (for example in the session.save_path ' +
        'URL), or point config-path at the file that has it.'
    )
    this.name = 'ConfigRewriteError'
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
const SCHEME = String.raw`tcp:(?:\/\/|\\\/\\\/)`
const PLACEHOLDER = PLACEHOLDERS.map(escape).join('|')
const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`
const IPV4 = `(?:${OCTET}\\.){3}${OCTET}`
const PORT = String.raw`:\d{1,5}(?!\d)`
// Group 1 scheme, 2 host, 3 port: an address after tcp:// (plain or sed-escaped), where an
// earlier run's IPv4 counts as well as a placeholder. The host must end there, so a name like
// tcp://10.0.0.5.nip.io is left alone. Groups 4 and 5: a placeholder anywhere else.
const TARGET = new RegExp(
  `(${SCHEME})(${PLACEHOLDER}|${IPV4}(?![\\w.-]))(${PORT})?|(${PLACEHOLDER})(${PORT})?`,
  'g'
)

function checkEndpoint({ ip, port }: RedisEndpoint): void {
  if (!isIPv4(ip)) throw new RangeError(`'${ip}' is not an IPv4 address`)
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`${port} is not a TCP port (1-65535)`)
}

/**
 * Points every Redis address in a config file at `endpoint`: the guide's placeholders and an
 * address an earlier run wrote, in plain and sed-escaped `tcp://` URLs (any IPv4 in a tcp://
 * URL counts as one: this file configures nothing but the session store). A port after either
 * becomes `endpoint.port`. Only those characters change; line endings, indentation and the
 * final newline (or its absence) stay byte for byte.
 *
 * There is deliberately no password parameter: this file is committed to a repository, where
 * anyone with read access (and every fork and clone, forever) would see it. A password reaches
 * the app servers another way, which the job summary explains.
 *
 * Throws ConfigRewriteError when the file holds nothing recognisable.
 */
export function rewriteConfig(text: string, endpoint: RedisEndpoint): RewriteResult {
  checkEndpoint(endpoint)
  const warnings = configWarnings(text)
  const changes: LineChange[] = []
  let found = false
  const portless: number[] = []
  // Split with the terminators captured, so joining the pieces gives back the exact input.
  const pieces = text.split(/(\r\n|\n|\r)/)
  for (let i = 0; i < pieces.length; i += 2) {
    const before = pieces[i]
    const lineNumber = i / 2 + 1
    const after = before.replace(
      TARGET,
      (_m, scheme?: string, _host?: string, port?: string, _bare?: string, barePort?: string) => {
        found = true
        if (scheme !== undefined) {
          // phpredis assumes 6379 when the URL names no port, so a URL without one only needs
          // one when Redis listens elsewhere.
          const keepPort = port !== undefined || endpoint.port !== DEFAULT_REDIS_PORT
          return `${scheme}${endpoint.ip}${keepPort ? `:${endpoint.port}` : ''}`
        }
        if (barePort !== undefined) return `${endpoint.ip}:${endpoint.port}`
        if (endpoint.port !== DEFAULT_REDIS_PORT) portless.push(lineNumber)
        return endpoint.ip
      }
    )
    if (after !== before) {
      pieces[i] = after
      changes.push({ line: lineNumber, before, after })
    }
  }
  if (!found) throw new ConfigRewriteError()
  if (portless.length > 0)
    warnings.push(
      `${lines(portless)} of the file name${portless.length === 1 ? 's' : ''} the Redis host without a port, but Redis listens on ${endpoint.port}, not ${DEFAULT_REDIS_PORT}. ` +
        `Write ${PLACEHOLDERS[0]}:${DEFAULT_REDIS_PORT} (the port follows the placeholder) or make sure the app servers use port ${endpoint.port}.`
    )
  return { text: pieces.join(''), changed: changes.length > 0, changes, warnings }
}

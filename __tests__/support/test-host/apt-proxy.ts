// The only way out of a test host: an HTTP forward proxy on the host's router address that
// forwards GET/HEAD to the Debian mirror paths the host's apt sources name, and refuses
// everything else with 403 (CONNECT included), so `apt-get install` works and nothing else
// leaves the namespace.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { run } from './system.js'

/** host[:port] (lower case) → path prefixes such as /debian. */
export type MirrorAllowList = Map<string, string[]>

/** The http URIs of apt sources text, deb822 (`URIs:`) or one-line (`deb [opts] uri ...`). */
export function mirrorsFromSources(text: string): MirrorAllowList {
  const uris: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    const deb822 = /^URIs:\s*(.*)$/i.exec(line)
    if (deb822) uris.push(...deb822[1].split(/\s+/))
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line)
    if (oneLine) uris.push(oneLine[1])
  }
  const allow: MirrorAllowList = new Map()
  for (const uri of uris) {
    let url: URL
    try {
      url = new URL(uri)
    } catch {
      continue
    }
    if (url.protocol !== 'http:') continue
    const prefix = url.pathname.replace(/\/+$/, '')
    const list = allow.get(url.host) ?? []
    if (!list.includes(prefix)) list.push(prefix)
    allow.set(url.host, list)
  }
  return allow
}

/** Why a proxied request may not pass, or undefined when it may. */
export function denialReason(method: string, target: string, allow: MirrorAllowList) {
  if (method !== 'GET' && method !== 'HEAD') return `method ${method}`
  let url: URL
  try {
    url = new URL(target)
  } catch {
    return 'not an absolute URL'
  }
  if (url.protocol !== 'http:') return `scheme ${url.protocol}`
  if (url.username || url.password) return 'credentials in URL'
  if (url.search) return 'query string'
  // URL has already resolved any dot segments, so the prefix test sees the real path.
  if (/%2e|%2f|%5c/i.test(url.pathname)) return 'encoded path separator'
  const prefixes = allow.get(url.host.toLowerCase())
  if (!prefixes) return `host ${url.host}`
  const inside = prefixes.some(p => p === '' || url.pathname.startsWith(`${p}/`))
  return inside ? undefined : `path ${url.pathname}`
}

/**
 * How this machine's apt reaches `host`: a proxy from apt's configuration (per-host setting
 * first) or from http_proxy, else undefined for a direct connection.
 */
export function upstreamProxy(aptConfigDump: string, host: string, env = process.env) {
  const setting = (key: string) => {
    const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    return new RegExp(`^${escaped} "([^"]*)";`, 'mi').exec(aptConfigDump)?.[1]
  }
  const value =
    setting(`Acquire::http::Proxy::${host}`) ??
    setting('Acquire::http::Proxy') ??
    env.http_proxy ??
    env.HTTP_PROXY
  if (!value || value.toUpperCase() === 'DIRECT') return undefined
  return new URL(value)
}

export async function machineAptConfig(): Promise<string> {
  const result = await run('apt-config', ['dump'])
  return result.code === 0 ? result.stdout : ''
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
])

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value
  }
  return out
}

export interface AptProxy {
  /** For Acquire::http::Proxy, e.g. http://10.20.1.1:41234/ */
  url: string
  /** "METHOD target: reason" of every refused request. */
  denied: string[]
  forwarded: number
  close(): Promise<void>
}

export async function startAptProxy(
  listenAddress: string,
  allow: MirrorAllowList,
  upstreamFor: (host: string) => URL | undefined
): Promise<AptProxy> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const denied: string[] = []
  const state = { forwarded: 0 }

  const refuse = (res: http.ServerResponse, line: string, reason: string) => {
    denied.push(`${line}: ${reason}`)
    res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' })
    res.end(`test host proxy: refused (${reason})\n`)
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? ''
    const target = req.url ?? ''
    const reason = denialReason(method, target, allow)
    if (reason) return refuse(res, `${method} ${target}`, reason)
    const url = new URL(target)
    const upstream = upstreamFor(url.host)
    const headers = endToEnd(req.headers)
    headers.host = url.host
    const outgoing = http.request(
      {
        agent,
        method,
        headers,
        ...(upstream
          ? { host: upstream.hostname, port: upstream.port || 80, path: url.href }
          : { host: url.hostname, port: url.port || 80, path: url.pathname })
      },
      incoming => {
        state.forwarded++
        res.writeHead(incoming.statusCode ?? 502, endToEnd(incoming.headers))
        incoming.pipe(res)
        incoming.on('error', () => res.destroy())
      }
    )
    outgoing.on('error', error => {
      if (res.headersSent) res.destroy()
      else {
        res.writeHead(502, { 'content-type': 'text/plain' })
        res.end(`test host proxy: upstream error: ${error.message}\n`)
      }
    })
    req.pipe(outgoing)
  })
  server.on('connect', (req: http.IncomingMessage, socket) => {
    denied.push(`CONNECT ${req.url}: tunnels are not allowed`)
    socket.on('error', () => undefined)
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
  })
  server.on('clientError', (_error, socket) => socket.destroy())
  // Every client socket, CONNECT ones included: closeAllConnections does not reach those, and
  // a host that vanished with its half-closed socket would hold server.close() open forever.
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, listenAddress, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://${listenAddress}:${port}/`,
    denied,
    get forwarded() {
      return state.forwarded
    },
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
        agent.destroy()
      })
  }
}

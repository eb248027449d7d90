// One request to moto, answered in full: the proxy rewrites bodies, so it buffers them (EC2
// answers are small) and sends its own Content-Length.
import { Agent, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'

export interface UpstreamResponse {
  status: number
  headers: Record<string, string | string[]>
  body: Buffer
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the proxy recomputes.
const DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length'
])

export function endToEndHeaders(
  headers: IncomingHttpHeaders | OutgoingHttpHeaders
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROP.has(name.toLowerCase())) continue
    out[name] = Array.isArray(value) ? value.map(String) : String(value)
  }
  return out
}

export class Upstream {
  private readonly agent = new Agent({ keepAlive: true })

  constructor(readonly target: URL) {}

  send(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer
  ): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          method,
          path,
          headers: {
            ...endToEndHeaders(headers),
            host: this.target.host,
            'content-length': String(body.length)
          }
        },
        res => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 502,
              headers: endToEndHeaders(res.headers),
              body: Buffer.concat(chunks)
            })
          )
        }
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

// The demo's evidence: Redis spoken to from inside a client-group host, and connection
// attempts from the runner that must fail.
import { Socket } from 'node:net'
import type { TestHost } from '../../__tests__/support/test-host.js'

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** RESP replies as text, one per reply: +OK, $4 data → "data", -ERR …. */
export function parseReplies(raw: string): string[] {
  const replies: string[] = []
  const lines = raw.split('\r\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.startsWith('$')) {
      replies.push(line === '$-1' ? '(nil)' : JSON.stringify(lines[++i]))
    } else if (line !== '') replies.push(line)
  }
  return replies
}

/**
 * Sends RESP commands from inside a host with bash's /dev/tcp (no Redis client is installed
 * there) and returns the raw replies. QUIT makes Redis close the connection, ending the read.
 */
export async function redisFrom(
  host: TestHost,
  address: string,
  port: number,
  commands: string[][]
): Promise<string> {
  const request = [...commands, ['QUIT']]
    .map(c => `*${c.length}\\r\\n` + c.map(a => `$${a.length}\\r\\n${a}\\r\\n`).join(''))
    .join('')
  const script = `exec 3<>/dev/tcp/${address}/${port} || exit 7; printf ${quote(request)} >&3; timeout 5 cat <&3`
  const r = await host.exec(`bash -c ${quote(script)}`)
  if (r.code === 7) throw new Error(`no connection to ${address}:${port} from ${host.address}`)
  return r.stdout
}

/** How a TCP connection from this process (the runner) ends: 'open', 'refused' or 'timed out'. */
export function connectFromRunner(address: string, port: number, timeoutMs = 2000) {
  return new Promise<'open' | 'refused' | 'timed out' | string>(resolve => {
    const socket = new Socket()
    const done = (result: string) => {
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(timeoutMs, () => done('timed out'))
    socket.once('error', (e: NodeJS.ErrnoException) =>
      done(e.code === 'ECONNREFUSED' ? 'refused' : (e.code ?? e.message))
    )
    socket.connect(port, address, () => done('open'))
  })
}

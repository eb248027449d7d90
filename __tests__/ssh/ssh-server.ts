// An SSH server on loopback for the connect and session tests: ssh2's own Server, with
// public key authentication checked the way sshd checks it (key match + signature).
import ssh2 from 'ssh2'
import type { Connection, ParsedKey, ServerChannel } from 'ssh2'
import { createServer, Socket, type Server } from 'node:net'
import type { SshKeyPair } from '../../src/ssh/keys.js'

export interface FakeSshServer {
  port: number
  /** TCP connections accepted, including dropped ones. */
  connections: number
  /** Authentication requests that carried a public key. */
  authAttempts: number
  /** Commands run, in order. */
  execs: string[]
  /** Channels to open for the direct-tcpip requests seen. */
  tunnels: string[]
  close(): Promise<void>
}

export interface FakeSshOptions {
  hostKey: SshKeyPair
  /** Public key line accepted for any user name. */
  clientPublicKey: string
  username?: string
  /** Listen on this port (for "comes up later" tests); 0 picks one. */
  port?: number
  /** Reset this many connections right after accepting them, like sshd while the host boots. */
  dropFirst?: number
  /** Accept TCP but never speak SSH. */
  mute?: boolean
}

function parsePublic(line: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(line)
  if (parsed instanceof Error) throw parsed
  return Array.isArray(parsed) ? parsed[0] : parsed
}

/** What the fake shell does for a command: the few behaviours the tests need. */
function runCommand(command: string, channel: ServerChannel): void {
  const input: Buffer[] = []
  channel.on('data', (chunk: Buffer) => input.push(chunk))
  if (command === 'sleep') return // never answers; the client must time out
  channel.on('end', () => {
    if (command === 'cat') {
      channel.write(Buffer.concat(input))
      channel.exit(0)
    } else if (command.startsWith('fail ')) {
      channel.stderr.write(`failing: ${command.slice(5)}\n`)
      channel.exit(Number(command.slice(5)))
    } else if (command === 'big') {
      for (let i = 0; i < 6; i++) channel.write(Buffer.alloc(1024 * 1024, 48 + i))
      channel.exit(0)
    } else {
      channel.write(`ran: ${command}\n`)
      channel.exit(0)
    }
    channel.end()
  })
}

export async function startSshServer(options: FakeSshOptions): Promise<FakeSshServer> {
  const allowed = parsePublic(options.clientPublicKey)
  const state = { connections: 0, authAttempts: 0, execs: [] as string[], tunnels: [] as string[] }
  const clients = new Set<Connection>()
  const sockets = new Set<Socket>()

  const ssh = new ssh2.Server({ hostKeys: [options.hostKey.privateKey] }, (client: Connection) => {
    clients.add(client)
    client.on('error', () => undefined)
    client.on('close', () => clients.delete(client))
    client.on('authentication', ctx => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey'])
      state.authAttempts++
      const userOk = options.username === undefined || ctx.username === options.username
      const keyOk = ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())
      if (!userOk || !keyOk) return ctx.reject(['publickey'])
      if (!ctx.signature) return ctx.accept() // the "would you accept this key" probe
      const ok =
        ctx.blob !== undefined && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true
      return ok ? ctx.accept() : ctx.reject(['publickey'])
    })
    client.on('ready', () => {
      client.on('session', accept => {
        const session = accept()
        session.on('exec', (acceptExec, _reject, info) => {
          state.execs.push(info.command)
          runCommand(info.command, acceptExec())
        })
      })
      client.on('tcpip', (accept, reject, info) => {
        state.tunnels.push(`${info.destIP}:${info.destPort}`)
        const upstream = new Socket()
        upstream.once('error', () => reject())
        upstream.connect(info.destPort, info.destIP, () => {
          const channel = accept()
          channel.pipe(upstream).pipe(channel)
          channel.on('error', () => upstream.destroy())
          upstream.on('error', () => channel.destroy())
        })
      })
    })
  })

  let dropped = 0
  const tcp: Server = createServer(socket => {
    state.connections++
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    if (dropped < (options.dropFirst ?? 0)) {
      dropped++
      socket.resetAndDestroy()
      return
    }
    if (options.mute) return
    ssh.injectSocket(socket)
  })
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = tcp.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')

  return {
    port: address.port,
    get connections() {
      return state.connections
    },
    get authAttempts() {
      return state.authAttempts
    },
    execs: state.execs,
    tunnels: state.tunnels,
    close: () =>
      new Promise<void>(resolve => {
        for (const c of clients) c.end()
        for (const s of sockets) s.destroy()
        tcp.close(() => resolve())
      })
  }
}

/** A port nothing listens on (bound once, then released). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}

// A loopback server that answers the few commands verifyRedis sends, the way Redis 7 does,
// so failure paths (wrong password, lost value, dropped connection) can be produced on demand.
import { createServer, Socket, type Server } from 'node:net'
import { RespParser } from '../../src/redis/resp.js'

export interface FakeRedisOptions {
  password?: string
  /** Answer this command with an error instead. */
  failCommand?: { name: string; error: string }
  /** GET returns another value than was SET. */
  corruptGet?: boolean
  /** Close the connection when this command arrives. */
  hangUpOn?: string
  /** Say this instead of speaking RESP (another service at the port). */
  banner?: string
}

export interface FakeRedis {
  port: number
  store: Map<string, string>
  commands: string[][]
  ttls: Map<string, number>
  /** How replies are cut into writes: every reply byte by byte when true. */
  trickle: boolean
  close(): Promise<void>
}

export async function startFakeRedis(options: FakeRedisOptions = {}): Promise<FakeRedis> {
  const store = new Map<string, string>()
  const ttls = new Map<string, number>()
  const commands: string[][] = []
  const sockets = new Set<Socket>()
  const state = { trickle: false }

  const server: Server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    if (options.banner) {
      socket.end(options.banner)
      return
    }
    const parser = new RespParser()
    let authed = !options.password
    const send = (text: string) => {
      if (!state.trickle) return void socket.write(text)
      for (const byte of Buffer.from(text)) socket.write(Buffer.from([byte]))
    }
    socket.on('data', chunk => {
      for (const request of parser.push(chunk)) {
        const args = request as string[]
        commands.push(args)
        const name = args[0].toUpperCase()
        if (options.hangUpOn === name) return void socket.destroy()
        if (options.failCommand?.name === name) {
          send(`-${options.failCommand.error}\r\n`)
          continue
        }
        if (name === 'AUTH') {
          if (!options.password)
            send(
              '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n'
            )
          else if (args[1] === options.password) {
            authed = true
            send('+OK\r\n')
          } else send('-WRONGPASS invalid username-password pair or user is disabled.\r\n')
          continue
        }
        if (!authed) {
          send('-NOAUTH Authentication required.\r\n')
          continue
        }
        switch (name) {
          case 'PING':
            send('+PONG\r\n')
            break
          case 'SET':
            store.set(args[1], args[2])
            if (args[3]?.toUpperCase() === 'EX') ttls.set(args[1], Number(args[4]))
            send('+OK\r\n')
            break
          case 'GET': {
            const value = store.get(args[1])
            const answer = options.corruptGet ? 'something else' : value
            send(
              answer === undefined ? '$-1\r\n' : `$${Buffer.byteLength(answer)}\r\n${answer}\r\n`
            )
            break
          }
          case 'DEL':
            send(`:${store.delete(args[1]) ? 1 : 0}\r\n`)
            break
          default:
            send(`-ERR unknown command '${args[0]}'\r\n`)
        }
      }
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    port: (server.address() as { port: number }).port,
    store,
    commands,
    ttls,
    get trickle() {
      return state.trickle
    },
    set trickle(value: boolean) {
      state.trickle = value
    },
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

export function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    socket.once('error', reject)
    socket.connect(port, '127.0.0.1', () => resolve(socket))
  })
}

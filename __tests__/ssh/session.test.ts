import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:net'
import type { RemoteShell } from '../../src/redis/remote.js'
import { connectPinned } from '../../src/ssh/connect.js'
import { generateEd25519KeyPair } from '../../src/ssh/keys.js'
import { ExecTimeoutError, SessionClosedError, type SshSession } from '../../src/ssh/session.js'
import { startSshServer, type FakeSshServer } from './ssh-server.js'

const hostKey = generateEd25519KeyPair('fake-host')
const clientKey = generateEd25519KeyPair('runner')
let ssh: FakeSshServer
let echo: Server
let echoPort: number
let session: SshSession

beforeAll(async () => {
  ssh = await startSshServer({ hostKey, clientPublicKey: clientKey.publicKey })
  // Upper-cases what it receives: proves bytes went through the tunnel and back.
  echo = createServer(socket => socket.on('data', d => socket.write(d.toString().toUpperCase())))
  await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', () => resolve()))
  echoPort = (echo.address() as { port: number }).port
  session = await connectPinned({
    host: '127.0.0.1',
    port: ssh.port,
    username: 'ubuntu',
    privateKey: clientKey.privateKey,
    hostKeyFingerprints: [hostKey.fingerprint],
    deadline: Date.now() + 10000
  })
})

afterAll(async () => {
  await session.close()
  await ssh.close()
  await new Promise<void>(resolve => echo.close(() => resolve()))
})

describe('SshSession', () => {
  it('is a RemoteShell for the redis module', () => {
    const shell: RemoteShell = session
    expect(typeof shell.exec).toBe('function')
  })

  it('returns stdout and exit status 0', async () => {
    expect(await session.exec('uptime')).toEqual({ code: 0, stdout: 'ran: uptime\n', stderr: '' })
  })

  it('delivers stdin and then end-of-file', async () => {
    const input = 'line one\nsecret line\n'.repeat(5000)
    const result = await session.exec('cat', { stdin: input })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(input)
    expect(ssh.execs.at(-1)).toBe('cat')
  })

  it('returns stderr and a non-zero status instead of throwing', async () => {
    expect(await session.exec('fail 3')).toEqual({ code: 3, stdout: '', stderr: 'failing: 3\n' })
  })

  it('keeps the last 4 MiB of a large output', async () => {
    const result = await session.exec('big')
    expect(result.stdout.length).toBe(4 * 1024 * 1024)
    expect(result.stdout.endsWith('5')).toBe(true)
    expect(result.stdout.startsWith('2')).toBe(true)
  })

  it('abandons a command that outlives its timeout', async () => {
    const started = Date.now()
    const error = await session.exec('sleep', { timeoutMs: 300 }).catch(e => e)
    expect(error).toBeInstanceOf(ExecTimeoutError)
    expect(error.message).toMatch(/within 0 s|within 1 s|did not finish/)
    expect(Date.now() - started).toBeLessThan(2000)
    // The session survives: the next command works.
    expect((await session.exec('id')).stdout).toBe('ran: id\n')
  })

  it('opens a tunnel to host:port as seen from the server', async () => {
    const stream = await session.forward('127.0.0.1', echoPort)
    const reply = await new Promise<string>((resolve, reject) => {
      stream.once('data', (d: Buffer) => resolve(d.toString()))
      stream.once('error', reject)
      stream.write('ping through the tunnel')
    })
    stream.end()
    expect(reply).toBe('PING THROUGH THE TUNNEL')
    expect(ssh.tunnels.at(-1)).toBe(`127.0.0.1:${echoPort}`)
  })

  it('reports a tunnel the server cannot open', async () => {
    const closed = await new Promise<number>(resolve => {
      const s = createServer()
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port
        s.close(() => resolve(port))
      })
    })
    await expect(session.forward('127.0.0.1', closed)).rejects.toThrow(
      /refused a tunnel to 127.0.0.1/
    )
  })

  it('closes, after which commands fail clearly', async () => {
    const other = await connectPinned({
      host: '127.0.0.1',
      port: ssh.port,
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: Date.now() + 10000
    })
    await other.close()
    await other.close()
    await expect(other.exec('id')).rejects.toBeInstanceOf(SessionClosedError)
    await expect(other.forward('127.0.0.1', echoPort)).rejects.toBeInstanceOf(SessionClosedError)
  })
})

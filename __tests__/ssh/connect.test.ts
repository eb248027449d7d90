import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type Server, type Socket } from 'node:net'
import {
  connectPinned,
  HostKeyMismatchError,
  SshAuthError,
  SshConnectError,
  SshTimeoutError,
  type ConnectAttempt
} from '../../src/ssh/connect.js'
import { generateEd25519KeyPair } from '../../src/ssh/keys.js'
import type { SshSession } from '../../src/ssh/session.js'
import { freePort, startSshServer, type FakeSshServer } from './ssh-server.js'

const hostKey = generateEd25519KeyPair('fake-host')
const clientKey = generateEd25519KeyPair('runner')
const cleanup: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function server(
  options: Partial<Parameters<typeof startSshServer>[0]> = {}
): Promise<FakeSshServer> {
  const s = await startSshServer({ hostKey, clientPublicKey: clientKey.publicKey, ...options })
  cleanup.push(() => s.close())
  return s
}

function keep(session: SshSession): SshSession {
  cleanup.push(() => session.close())
  return session
}

const inSeconds = (s: number) => Date.now() + s * 1000

describe('connectPinned', () => {
  it('connects when the host presents the pinned key, and reports what it saw', async () => {
    const s = await server({ username: 'ubuntu' })
    const attempts: ConnectAttempt[] = []
    const session = keep(
      await connectPinned({
        host: '127.0.0.1',
        port: s.port,
        username: 'ubuntu',
        privateKey: clientKey.privateKey,
        hostKeyFingerprints: [generateEd25519KeyPair().fingerprint, hostKey.fingerprint],
        deadline: inSeconds(10),
        onAttempt: a => attempts.push(a)
      })
    )
    expect(session.info).toMatchObject({
      host: '127.0.0.1',
      port: s.port,
      username: 'ubuntu',
      hostKeyFingerprint: hostKey.fingerprint,
      attempts: 1
    })
    expect(attempts).toHaveLength(1)
    expect(attempts[0].error).toBeUndefined()
    expect((await session.exec('hostname')).stdout).toBe('ran: hostname\n')
  })

  it('accepts a pin without the SHA256: prefix and a deadline object', async () => {
    const s = await server()
    const end = inSeconds(10)
    const session = keep(
      await connectPinned({
        host: '127.0.0.1',
        port: s.port,
        username: 'admin',
        privateKey: Buffer.from(clientKey.privateKey),
        hostKeyFingerprints: [hostKey.fingerprint.slice('SHA256:'.length)],
        deadline: { remainingMs: () => end - Date.now() }
      })
    )
    expect(session.info.hostKeyFingerprint).toBe(hostKey.fingerprint)
  })

  it('refuses a host whose key is not pinned, at once, before authenticating', async () => {
    const s = await server()
    const pinned = generateEd25519KeyPair().fingerprint
    const started = Date.now()
    const error = await connectPinned({
      host: '127.0.0.1',
      port: s.port,
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [pinned],
      deadline: inSeconds(20)
    }).catch(e => e)
    expect(error).toBeInstanceOf(HostKeyMismatchError)
    expect(error).toMatchObject({
      kind: 'host-key',
      expected: [pinned],
      seen: hostKey.fingerprint,
      attempts: 1
    })
    expect(error.message).toContain(`its SSH host key is ${hostKey.fingerprint}`)
    expect(error.message).toContain(`pinned key is ${pinned}`)
    expect(s.connections).toBe(1)
    expect(s.authAttempts).toBe(0)
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('reports a rejected client key as an auth error naming the key and ssh-user', async () => {
    const s = await server()
    const error = await connectPinned({
      host: '127.0.0.1',
      port: s.port,
      username: 'ubuntu',
      privateKey: generateEd25519KeyPair().privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(20),
      authRetries: 1
    }).catch(e => e)
    expect(error).toBeInstanceOf(SshAuthError)
    expect(error.kind).toBe('auth')
    expect(error.message).toContain('wrong key or ssh-user')
    expect(error.message).toContain("user 'ubuntu'")
    expect(error.attempts).toBe(2)
    expect(s.connections).toBe(2)
  })

  it('reports a wrong user name the same way', async () => {
    const s = await server({ username: 'ubuntu' })
    const error = await connectPinned({
      host: '127.0.0.1',
      port: s.port,
      username: 'ec2-user',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(20),
      authRetries: 0
    }).catch(e => e)
    expect(error).toBeInstanceOf(SshAuthError)
    expect(error.attempts).toBe(1)
  })

  it('retries with growing waits while the port is closed, and connects once sshd is up', async () => {
    const port = await freePort()
    const attempts: ConnectAttempt[] = []
    const pending = connectPinned({
      host: '127.0.0.1',
      port,
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(15),
      onAttempt: a => attempts.push(a)
    })
    await new Promise(resolve => setTimeout(resolve, 1200))
    await server({ port })
    const session = keep(await pending)
    const failed = attempts.filter(a => a.error)
    expect(failed.length).toBeGreaterThanOrEqual(2)
    expect(failed.every(a => /ECONNREFUSED/.test(a.error!.message))).toBe(true)
    // Doubling from 100 ms, capped at 200 ms.
    expect(failed.map(a => a.retryInMs).slice(0, 4)).toEqual(
      [100, 200, 200, 200].slice(0, Math.min(4, failed.length))
    )
    expect(attempts.at(-1)!.error).toBeUndefined()
    expect(session.info.attempts).toBe(attempts.length)
  })

  it('stops retrying at once when the caller aborts (the instance died while booting)', async () => {
    const port = await freePort()
    const controller = new AbortController()
    const attempts: ConnectAttempt[] = []
    const pending = connectPinned({
      host: '127.0.0.1',
      port,
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(30),
      signal: controller.signal,
      onAttempt: a => attempts.push(a)
    })
    await new Promise(resolve => setTimeout(resolve, 300))
    const started = Date.now()
    controller.abort(new Error('instance i-1 terminated while booting'))
    await expect(pending).rejects.toThrow('instance i-1 terminated while booting')
    expect(Date.now() - started).toBeLessThan(1500)
    expect(attempts.length).toBeGreaterThanOrEqual(1)
  })

  it('retries connections reset during the handshake, as while the host boots', async () => {
    const s = await server({ dropFirst: 2 })
    const attempts: ConnectAttempt[] = []
    const session = keep(
      await connectPinned({
        host: '127.0.0.1',
        port: s.port,
        username: 'ubuntu',
        privateKey: clientKey.privateKey,
        hostKeyFingerprints: [hostKey.fingerprint],
        deadline: inSeconds(15),
        onAttempt: a => attempts.push(a)
      })
    )
    expect(session.info.attempts).toBe(3)
    expect(s.connections).toBe(3)
    expect(attempts.slice(0, 2).every(a => a.error && a.retryInMs)).toBe(true)
  })

  it('gives up at the deadline with a timeout error when the port stays closed', async () => {
    const port = await freePort()
    const started = Date.now()
    const error = await connectPinned({
      host: '127.0.0.1',
      port,
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(2)
    }).catch(e => e)
    const elapsed = Date.now() - started
    expect(error).toBeInstanceOf(SshTimeoutError)
    expect(error.kind).toBe('timeout')
    expect(error.message).toMatch(/ECONNREFUSED/)
    expect(error.attempts).toBeGreaterThanOrEqual(3)
    expect(elapsed).toBeGreaterThan(1000)
    expect(elapsed).toBeLessThan(2600)
  })

  it('limits each handshake, so a server that never speaks SSH cannot hold it past the deadline', async () => {
    const silent: Socket[] = []
    const tcp: Server = createServer(socket => {
      silent.push(socket)
    })
    await new Promise<void>(resolve => tcp.listen(0, '127.0.0.1', () => resolve()))
    cleanup.push(
      () =>
        new Promise<void>(resolve => {
          for (const s of silent) s.destroy()
          tcp.close(() => resolve())
        })
    )
    const port = (tcp.address() as { port: number }).port
    const started = Date.now()
    const error = await connectPinned({
      host: '127.0.0.1',
      port,
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(3),
      handshakeTimeoutMs: 1000
    }).catch(e => e)
    expect(error).toBeInstanceOf(SshTimeoutError)
    expect(error.message).toMatch(/handshake/)
    expect(error.attempts).toBeGreaterThanOrEqual(2)
    expect(Date.now() - started).toBeLessThan(4500)
  })

  it('refuses to connect without any pinned fingerprint', async () => {
    const error = await connectPinned({
      host: '127.0.0.1',
      username: 'ubuntu',
      privateKey: clientKey.privateKey,
      hostKeyFingerprints: [],
      deadline: inSeconds(5)
    }).catch(e => e)
    expect(error).toBeInstanceOf(SshConnectError)
    expect(error.message).toMatch(/unverified host/)
  })

  it('fails at once on a private key ssh2 cannot use', async () => {
    const s = await server()
    const error = await connectPinned({
      host: '127.0.0.1',
      port: s.port,
      username: 'ubuntu',
      privateKey: 'not a key',
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: inSeconds(10)
    }).catch(e => e)
    expect(error).toBeInstanceOf(SshConnectError)
    expect(error.kind).toBe('config')
    expect(error.attempts).toBe(1)
  })
})

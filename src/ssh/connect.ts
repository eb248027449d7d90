import ssh2 from 'ssh2'
import type { Client } from 'ssh2'
import { Socket } from 'node:net'
import { fingerprint, normalizeFingerprint } from './keys.js'
import { SshSession } from './session.js'

/** Anything that can say how long is left; a number is an absolute time in ms since the epoch. */
export interface Deadline {
  remainingMs(): number
}

export interface ConnectAttempt {
  /** 1 for the first attempt. */
  attempt: number
  /** Milliseconds since connectPinned was called. */
  elapsedMs: number
  /** Why the attempt failed; undefined when it succeeded. */
  error?: Error
  /** When the attempt failed and another follows: the wait before it. */
  retryInMs?: number
}

export interface ConnectPinnedOptions {
  host: string
  port?: number
  username: string
  privateKey: string | Buffer
  /** SHA256 fingerprints (`SHA256:…`) the host may present; any other key is refused. */
  hostKeyFingerprints: string[]
  deadline: Deadline | number
  /** Called after every attempt, for progress logs. */
  onAttempt?: (attempt: ConnectAttempt) => void
  /**
   * Limit for one TCP connect. Default: 250, 500 and 1000 ms in turn (TCP_TIMEOUTS_MS).
   */
  tcpTimeoutMs?: number
  /** Limit for one SSH handshake + authentication. Default 10 s. */
  handshakeTimeoutMs?: number
  /** Stops retrying (the reason becomes the error) when the caller gives up on the host. */
  signal?: AbortSignal
  /**
   * Authentication rejections tolerated before giving up (default 2): an image whose sshd
   * starts before cloud-init has written authorized_keys rejects the first few attempts.
   */
  authRetries?: number
}

/** Base of every connection failure, with `kind` for callers that branch on it. */
export class SshConnectError extends Error {
  constructor(
    readonly kind: 'host-key' | 'auth' | 'unreachable' | 'timeout' | 'config',
    message: string,
    readonly attempts: number,
    readonly lastError?: Error
  ) {
    super(message)
    this.name = 'SshConnectError'
  }
}

export class HostKeyMismatchError extends SshConnectError {
  constructor(
    readonly target: string,
    readonly expected: string[],
    readonly seen: string,
    attempts: number
  ) {
    super(
      'host-key',
      `refusing ${target}: its SSH host key is ${seen}, but the pinned key is ${expected.join(' or ')}. ` +
        'Either a different machine answers at this address or the instance was replaced; nothing was sent to it. ' +
        'Check that the address belongs to this deployment’s instance before trusting it.',
      attempts
    )
    this.name = 'HostKeyMismatchError'
  }
}

export class SshAuthError extends SshConnectError {
  constructor(target: string, username: string, attempts: number, lastError: Error) {
    super(
      'auth',
      `${target} rejected the SSH key for user '${username}' (wrong key or ssh-user). ` +
        'Check that ssh-private-key belongs to key-name, and that ssh-user is the image’s login user (ubuntu on Ubuntu, admin on Debian).',
      attempts,
      lastError
    )
    this.name = 'SshAuthError'
  }
}

export class SshUnreachableError extends SshConnectError {
  constructor(target: string, seconds: number, attempts: number, lastError: Error) {
    super(
      'unreachable',
      `${target} could not be reached in ${seconds} s (${attempts} attempts, last: ${lastError.message}). ` +
        'Check the security group (port 22 from this runner), the route from the runner to the subnet, ' +
        'and ssh-via (private needs a runner inside the VPC; public needs a public or Elastic IP).',
      attempts,
      lastError
    )
    this.name = 'SshUnreachableError'
  }
}

export class SshTimeoutError extends SshConnectError {
  constructor(target: string, seconds: number, attempts: number, lastError: Error) {
    super(
      'timeout',
      `${target} answered but sshd was not ready within ${seconds} s (${attempts} attempts, last: ${lastError.message}). ` +
        'The instance may still be booting or cloud-init may have failed; its console output shows why. Raise timeout-seconds if boots are slow.',
      attempts,
      lastError
    )
    this.name = 'SshTimeoutError'
  }
}

// ed25519 first: it is the only host key cloud-init leaves when we deliver one. The others
// stay so a pin read from an older image's console (ECDSA, RSA) can still be checked.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256'
] as const

// A booting host refuses (RST) until sshd listens, so attempts are cheap: one every 200 ms
// finds sshd about 100 ms after it starts, on average; a 400 ms cap left twice that
// (bench/results.md, SSH reachable from the runner).
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 200
// A dropped SYN (a host not up yet, a security group rule not yet in force) is sent again by
// the kernel only after a second; a fresh connection after 250 ms finds a newly opened port
// about 0.75 s sooner (bench/results.md). A runner whose round trip to the host is longer
// than that still connects on the 500 and 1000 ms attempts of each turn.
const TCP_TIMEOUTS_MS = [250, 500, 1000]

/** How an attempt failed, which decides whether to retry and which error the caller gets. */
type Failure =
  | { type: 'host-key'; seen: string }
  | { type: 'auth'; error: Error }
  | { type: 'fatal'; error: Error }
  | { type: 'retry'; error: Error; reached: boolean }

function remaining(deadline: Deadline | number): number {
  return typeof deadline === 'number' ? deadline - Date.now() : deadline.remainingMs()
}

const UNREACHED = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT', 'EAI_AGAIN'])

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    const timer = setTimeout(() => {
      socket.destroy()
      const err = new Error(`TCP connect to port ${port} timed out after ${timeoutMs} ms`)
      Object.assign(err, { code: 'ETIMEDOUT' })
      reject(err)
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      // Small request/response packets: Nagle plus delayed ACKs would add ~40 ms to each.
      socket.setNoDelay(true)
      socket.removeAllListeners('error')
      resolve(socket)
    })
    socket.once('error', err => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    })
    socket.connect({ host, port })
  })
}

interface Attempt {
  host: string
  port: number
  username: string
  privateKey: string | Buffer
  allowed: Set<string>
  tcpTimeoutMs: number
  handshakeTimeoutMs: number
}

async function attemptOnce(a: Attempt): Promise<{ client: Client; seen: string } | Failure> {
  let socket: Socket
  try {
    socket = await tcpConnect(a.host, a.port, a.tcpTimeoutMs)
  } catch (e) {
    const error = e as NodeJS.ErrnoException
    if (error.code === 'ENOTFOUND') return { type: 'fatal', error }
    return { type: 'retry', error, reached: !UNREACHED.has(error.code ?? '') }
  }
  return new Promise(resolve => {
    const client = new ssh2.Client()
    let seen: string | undefined
    let settled = false
    const finish = (result: { client: Client; seen: string } | Failure) => {
      if (settled) return
      settled = true
      if ('type' in result) client.destroy()
      resolve(result)
    }
    client.on('ready', () => finish({ client, seen: seen ?? '' }))
    client.on('error', (err: Error & { level?: string }) => {
      if (seen !== undefined && !a.allowed.has(seen)) finish({ type: 'host-key', seen })
      else if (err.level === 'client-authentication') finish({ type: 'auth', error: err })
      else finish({ type: 'retry', error: err, reached: true })
    })
    client.on('close', () =>
      finish({
        type: 'retry',
        error: new Error('the server closed the connection during the SSH handshake'),
        reached: true
      })
    )
    try {
      client.connect({
        sock: socket,
        username: a.username,
        privateKey: a.privateKey,
        readyTimeout: a.handshakeTimeoutMs,
        // Without hostHash ssh2 passes the raw key blob, which is hashed the way OpenSSH does.
        hostVerifier: (key: Buffer) => {
          seen = fingerprint(key)
          return a.allowed.has(seen)
        },
        algorithms: { serverHostKey: [...HOST_KEY_ALGORITHMS] },
        // Detects a dead connection during a long apt-get instead of hanging until the deadline.
        keepaliveInterval: 15000,
        keepaliveCountMax: 4
      })
    } catch (e) {
      socket.destroy()
      finish({ type: 'fatal', error: e as Error })
    }
  })
}

/**
 * Opens an SSH session to a host whose key must match one of the pinned fingerprints, retrying
 * with capped backoff while the host boots. A host key mismatch is never retried.
 */
export async function connectPinned(options: ConnectPinnedOptions): Promise<SshSession> {
  const port = options.port ?? 22
  const target = `${options.host}:${port}`
  if (options.hostKeyFingerprints.length === 0)
    throw new SshConnectError(
      'config',
      `no host key fingerprint is known for ${target}; refusing to connect to an unverified host`,
      0
    )
  const allowed = new Set(options.hostKeyFingerprints.map(normalizeFingerprint))
  const expected = [...allowed]
  const start = Date.now()
  const authRetries = options.authRetries ?? 2
  let authFailures = 0
  let reachedOnce = false
  let delay = FIRST_DELAY_MS

  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted()
    const left = remaining(options.deadline)
    const result = await attemptOnce({
      host: options.host,
      port,
      username: options.username,
      privateKey: options.privateKey,
      allowed,
      tcpTimeoutMs: Math.max(
        250,
        Math.min(
          options.tcpTimeoutMs ?? TCP_TIMEOUTS_MS[(attempt - 1) % TCP_TIMEOUTS_MS.length],
          left
        )
      ),
      handshakeTimeoutMs: Math.max(1000, Math.min(options.handshakeTimeoutMs ?? 10000, left))
    })
    const elapsedMs = Date.now() - start
    if (!('type' in result)) {
      options.onAttempt?.({ attempt, elapsedMs })
      return new SshSession(result.client, {
        host: options.host,
        port,
        username: options.username,
        hostKeyFingerprint: result.seen,
        attempts: attempt,
        connectMs: elapsedMs
      })
    }

    if (result.type === 'host-key') {
      const error = new HostKeyMismatchError(target, expected, result.seen, attempt)
      options.onAttempt?.({ attempt, elapsedMs, error })
      throw error
    }
    if (result.type === 'fatal') {
      options.onAttempt?.({ attempt, elapsedMs, error: result.error })
      throw new SshConnectError(
        'config',
        `cannot connect to ${target}: ${result.error.message}`,
        attempt,
        result.error
      )
    }
    if (result.type === 'auth') {
      reachedOnce = true
      authFailures++
      if (authFailures > authRetries || remaining(options.deadline) <= delay) {
        const error = new SshAuthError(target, options.username, attempt, result.error)
        options.onAttempt?.({ attempt, elapsedMs, error })
        throw error
      }
    } else {
      reachedOnce ||= result.reached
      authFailures = 0
    }

    const error = result.error
    if (remaining(options.deadline) <= delay) {
      options.onAttempt?.({ attempt, elapsedMs, error })
      const seconds = Math.round(elapsedMs / 1000)
      throw reachedOnce
        ? new SshTimeoutError(target, seconds, attempt, error)
        : new SshUnreachableError(target, seconds, attempt, error)
    }
    options.onAttempt?.({ attempt, elapsedMs, error, retryInMs: delay })
    await new Promise(resolve => setTimeout(resolve, delay))
    delay = Math.min(delay * 2, MAX_DELAY_MS)
  }
}

// When could the runner first reach sshd on the instance? A new TCP connection is opened every
// 50 ms (a SYN dropped by the firewall is not retried by the kernel for a second, so one
// connection would be late by up to that); the first one that receives sshd's banner marks
// the moment. Then one full login with the operator's key measures what a handshake costs
// (key exchange + public-key auth), the floor below which no client can go.
import { Socket } from 'node:net'
import ssh2 from 'ssh2'

export interface SshProbeResult {
  /** Epoch ms: start of the first connection that got the banner. */
  reachableAt: number
  /** Resolution of reachableAt: readiness came at most this long before it. */
  resolutionMs: number
  /** Local port of the probe's login, to tell its journal line from the action's. */
  loginPort: number
  loginStartedAt: number
  /** Connection start to ready, measured here. */
  loginMs: number
}

const EVERY_MS = 50
const TIMEOUT_MS = 400

function bannerFrom(address: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(TIMEOUT_MS, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (d: Buffer) => done(d.toString('latin1').startsWith('SSH-')))
    socket.connect(port, address)
  })
}

function login(address: string, username: string, privateKey: string) {
  return new Promise<{ port: number; startedAt: number; ms: number }>((resolve, reject) => {
    const client = new ssh2.Client()
    const startedAt = Date.now()
    let port = 0
    const timer = setTimeout(() => {
      client.destroy()
      reject(new Error('probe login timed out'))
    }, 15_000)
    client.on('ready', () => {
      clearTimeout(timer)
      const ms = Date.now() - startedAt
      client.end()
      resolve({ port, startedAt, ms })
    })
    client.on('error', e => {
      clearTimeout(timer)
      reject(e)
    })
    const socket = new Socket()
    socket.setNoDelay(true)
    socket.connect(22, address, () => {
      port = socket.localPort ?? 0
      client.connect({
        sock: socket,
        username,
        privateKey,
        // The bench's own probe of a host it just saw boot; the action pins the key itself.
        hostVerifier: () => true
      })
    })
    socket.once('error', reject)
  })
}

/**
 * Probes `address` from `notBefore` on (nothing counts before the action's SSH rule exists);
 * gives up at `deadline`. Only call it once the host's network exists: before that the
 * address would route out of the machine.
 */
export async function probeSsh(options: {
  address: string
  username: string
  privateKey: string
  notBefore: () => number | undefined
  deadline: number
}): Promise<SshProbeResult> {
  const { address } = options
  let found: number | undefined
  const inFlight = new Set<Promise<void>>()
  while (found === undefined) {
    if (Date.now() > options.deadline) throw new Error(`sshd on ${address} never reachable`)
    const startedAt = Date.now()
    const notBefore = options.notBefore()
    if (notBefore !== undefined && startedAt >= notBefore) {
      const attempt = bannerFrom(address, 22).then(ok => {
        if (ok && (found === undefined || startedAt < found)) found = startedAt
      })
      inFlight.add(attempt)
      void attempt.finally(() => inFlight.delete(attempt))
    }
    await new Promise(r => setTimeout(r, EVERY_MS))
  }
  await Promise.all(inFlight)
  // The login only measures what one handshake costs; a reset (sshd busy with the action's own
  // attempts) is retried rather than allowed to sink the measurement.
  let l: Awaited<ReturnType<typeof login>> | undefined
  for (let attempt = 1; !l; attempt++) {
    try {
      l = await login(address, options.username, options.privateKey)
    } catch (error) {
      if (attempt >= 5) throw error
      await new Promise(r => setTimeout(r, 100))
    }
  }
  return {
    reachableAt: found as number,
    resolutionMs: EVERY_MS,
    loginPort: l.port,
    loginStartedAt: l.startedAt,
    loginMs: l.ms
  }
}

export interface AcceptedLogin {
  at: number
  port: number
}

/** sshd's "Accepted publickey … port N" lines from `journalctl -o json`, with µs timestamps. */
export function acceptedLogins(journalJson: string): AcceptedLogin[] {
  return journalJson
    .split('\n')
    .filter(Boolean)
    .flatMap(line => {
      const entry = JSON.parse(line) as { MESSAGE?: string; __REALTIME_TIMESTAMP?: string }
      const m = /^Accepted publickey for \S+ from \S+ port (\d+)/.exec(entry.MESSAGE ?? '')
      return m ? [{ at: Number(entry.__REALTIME_TIMESTAMP) / 1000, port: Number(m[1]) }] : []
    })
}

import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { RespConnection, RespError, type RespReply } from './resp.js'

export interface VerifyOptions {
  /** Sent with AUTH first when set. */
  password?: string
  /** Limit for each reply. Default 5 s. */
  timeoutMs?: number
}

export interface VerifyTimings {
  /** Milliseconds per step; authMs only when a password was sent. */
  authMs?: number
  pingMs: number
  setMs: number
  getMs: number
  delMs: number
  totalMs: number
  /** The key written and deleted again. */
  key: string
}

export type VerifyStep = 'AUTH' | 'PING' | 'SET' | 'GET' | 'DEL'

export class RedisVerifyError extends Error {
  constructor(
    readonly step: VerifyStep,
    /** What came back: Redis's reply, or why none did. */
    readonly answer: string,
    redisError?: string
  ) {
    super(`Redis verification failed at ${step}: ${answer}${hint(step, redisError ?? '')}`)
    this.name = 'RedisVerifyError'
  }
}

/** Advice for the error replies a misconfigured password produces. */
function hint(step: VerifyStep, redisError: string): string {
  if (/^NOAUTH/.test(redisError))
    return '. Redis requires a password; set redis-password to the one it was provisioned with.'
  if (/^WRONGPASS|invalid password/i.test(redisError))
    return '. The password is not the one Redis has; re-run provisioning with the current redis-password.'
  if (step === 'AUTH' && /without any password configured/i.test(redisError))
    return '. Redis has no password; it was provisioned without redis-password.'
  if (/^NOPERM/.test(redisError)) return '. The default user’s ACL forbids this command.'
  return ''
}

function describe(reply: RespReply): string {
  if (reply instanceof RespError) return `Redis answered "${reply.message}"`
  if (reply === null) return 'Redis answered nil'
  return `Redis answered ${JSON.stringify(reply).slice(0, 200)}`
}

/**
 * A real session round trip over a stream to Redis (an SSH tunnel): AUTH when a password is
 * set, PING, SET with a 60 s TTL, GET the same value back, DEL. Ends the stream when done.
 * Errors name the step and Redis's answer; the password never appears in one.
 */
export async function verifyRedis(
  stream: Duplex,
  options: VerifyOptions = {}
): Promise<VerifyTimings> {
  const timeoutMs = options.timeoutMs ?? 5000
  const connection = new RespConnection(stream)
  const key = `openemr-redis:verify:${randomBytes(8).toString('hex')}`
  const value = randomBytes(16).toString('hex')
  const redact = (text: string) =>
    options.password ? text.split(options.password).join('***') : text

  const step = async (
    name: VerifyStep,
    args: string[],
    ok: (reply: RespReply) => boolean
  ): Promise<number> => {
    const started = performance.now()
    let reply: RespReply
    try {
      reply = await connection.command(args, timeoutMs)
    } catch (e) {
      throw new RedisVerifyError(name, redact((e as Error).message))
    }
    if (!ok(reply))
      throw new RedisVerifyError(
        name,
        redact(describe(reply)),
        reply instanceof RespError ? redact(reply.message) : undefined
      )
    return Math.round((performance.now() - started) * 10) / 10
  }

  const started = performance.now()
  try {
    const authMs = options.password
      ? await step('AUTH', ['AUTH', options.password], r => r === 'OK')
      : undefined
    const pingMs = await step('PING', ['PING'], r => r === 'PONG')
    const setMs = await step('SET', ['SET', key, value, 'EX', '60'], r => r === 'OK')
    const getMs = await step('GET', ['GET', key], r => r === value)
    const delMs = await step('DEL', ['DEL', key], r => r === 1)
    return {
      ...(authMs !== undefined ? { authMs } : {}),
      pingMs,
      setMs,
      getMs,
      delMs,
      totalMs: Math.round((performance.now() - started) * 10) / 10,
      key
    }
  } finally {
    connection.end()
  }
}

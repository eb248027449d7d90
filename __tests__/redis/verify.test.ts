import { afterEach, describe, expect, it } from '@jest/globals'
import { RedisVerifyError, verifyRedis } from '../../src/redis/verify.js'
import { connectTo, startFakeRedis, type FakeRedis, type FakeRedisOptions } from './fake-redis.js'

const PASSWORD = 'correct-horse-battery-staple-42'
let redis: FakeRedis | undefined
afterEach(async () => {
  await redis?.close()
  redis = undefined
})

async function run(server: FakeRedisOptions, password?: string) {
  redis = await startFakeRedis(server)
  return verifyRedis(await connectTo(redis.port), { password, timeoutMs: 2000 })
}

async function failure(server: FakeRedisOptions, password?: string): Promise<RedisVerifyError> {
  const error = await run(server, password).catch(e => e)
  expect(error).toBeInstanceOf(RedisVerifyError)
  expect(error.message).not.toContain(PASSWORD)
  return error
}

describe('verifyRedis', () => {
  it('does PING, SET with a 60 s TTL, GET, DEL, and leaves nothing behind', async () => {
    const timings = await run({})
    expect(redis!.commands.map(c => c[0])).toEqual(['PING', 'SET', 'GET', 'DEL'])
    const [, key, value, ex, ttl] = redis!.commands[1]
    expect([ex, ttl]).toEqual(['EX', '60'])
    expect(key).toBe(timings.key)
    expect(key).toMatch(/^openemr-redis:verify:[0-9a-f]{16}$/)
    expect(value).toMatch(/^[0-9a-f]{32}$/)
    expect(redis!.store.size).toBe(0)
    expect(timings.authMs).toBeUndefined()
    for (const t of [timings.pingMs, timings.setMs, timings.getMs, timings.delMs]) {
      expect(t).toBeGreaterThanOrEqual(0)
      expect(t).toBeLessThanOrEqual(timings.totalMs)
    }
  })

  it('authenticates first when a password is set', async () => {
    const timings = await run({ password: PASSWORD }, PASSWORD)
    expect(redis!.commands[0]).toEqual(['AUTH', PASSWORD])
    expect(typeof timings.authMs).toBe('number')
  })

  it('uses a new key each run', async () => {
    const a = await run({})
    await redis!.close()
    const b = await run({})
    expect(a.key).not.toBe(b.key)
  })

  it('names AUTH and Redis’s answer for a wrong password, without the password', async () => {
    const error = await failure({ password: 'something-else-entirely' }, PASSWORD)
    expect(error.step).toBe('AUTH')
    expect(error.message).toContain('WRONGPASS')
    expect(error.message).toMatch(/re-run provisioning/)
  })

  it('says a password is needed when Redis answers NOAUTH', async () => {
    const error = await failure({ password: PASSWORD })
    expect(error.step).toBe('PING')
    expect(error.message).toMatch(/NOAUTH Authentication required/)
    expect(error.message).toMatch(/set redis-password/)
  })

  it('says Redis has no password when AUTH is not expected', async () => {
    const error = await failure({}, PASSWORD)
    expect(error.step).toBe('AUTH')
    expect(error.message).toMatch(/provisioned without redis-password/)
  })

  it('names the step Redis refused', async () => {
    const error = await failure({
      failCommand: { name: 'SET', error: 'OOM command not allowed when used memory > maxmemory' }
    })
    expect(error.step).toBe('SET')
    expect(error.answer).toBe(
      'Redis answered "OOM command not allowed when used memory > maxmemory"'
    )
  })

  it('notices a value that does not come back', async () => {
    const error = await failure({ corruptGet: true })
    expect(error.step).toBe('GET')
    expect(error.message).toContain('Redis answered "something else"')
  })

  it('names the step where the connection dropped', async () => {
    const error = await failure({ hangUpOn: 'DEL' })
    expect(error.step).toBe('DEL')
    expect(error.message).toMatch(/closed/)
  })

  it('reports another service at the port as not Redis', async () => {
    const error = await failure({ banner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n' })
    expect(error.step).toBe('PING')
    expect(error.message).toMatch(/not a Redis \(RESP\) reply/)
  })
})

import { describe, expect, it } from '@jest/globals'
import { Deadline, poll, retryEventualConsistency, TimeoutError } from '../../src/aws/poll.js'
import { awsError } from './aws-errors.js'

describe('Deadline', () => {
  it('counts down from the given seconds and expires', () => {
    let now = 1_000
    const deadline = new Deadline(2, () => now)
    expect(deadline.remainingMs()).toBe(2000)
    expect(deadline.expired()).toBe(false)
    now += 1500
    expect(deadline.remainingMs()).toBe(500)
    now += 600
    expect(deadline.remainingMs()).toBe(0)
    expect(deadline.expired()).toBe(true)
  })

  it('assert names what was about to happen once expired', () => {
    let now = 0
    const deadline = new Deadline(5, () => now)
    expect(() => deadline.assert('launching the instance')).not.toThrow()
    now = 5000
    expect(() => deadline.assert('launching the instance')).toThrow(
      /Timed out after 5 s \(timeout-seconds\) launching the instance\./
    )
  })
})

describe('poll', () => {
  it('returns the first defined result, checking again after short pauses', async () => {
    let calls = 0
    const started = Date.now()
    const result = await poll(
      async () => {
        calls++
        return calls === 3 ? 'ready' : undefined
      },
      { what: 'waiting', deadline: new Deadline(10), intervalMs: 20, maxIntervalMs: 30 }
    )
    expect(result).toBe('ready')
    expect(calls).toBe(3)
    // 20 ms + 30 ms of pauses, nowhere near a waiter's 15 s.
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('grows the pause by half from 200 ms up to a one-second cap', async () => {
    const pauses: number[] = []
    let calls = 0
    await poll(async () => (++calls === 7 ? true : undefined), {
      what: 'waiting',
      deadline: new Deadline(60),
      sleep: async ms => {
        pauses.push(ms)
      }
    })
    expect(pauses).toEqual([200, 300, 450, 675, 1000, 1000])
  })

  it('shortens the last pause to what is left of the deadline', async () => {
    let now = 0
    const pauses: number[] = []
    await expect(
      poll(async () => undefined, {
        what: 'x',
        deadline: new Deadline(1, () => now),
        sleep: async ms => {
          pauses.push(ms)
          now += ms
        }
      })
    ).rejects.toThrow(TimeoutError)
    expect(pauses).toEqual([200, 300, 450, 50])
  })

  it('times out naming what was awaited and the last state seen', async () => {
    const error = await poll(
      async observe => {
        observe('pending')
        return undefined
      },
      { what: 'waiting for i-1 to be running', deadline: new Deadline(0.05), intervalMs: 10 }
    ).catch(e => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.message).toMatch(
      /Timed out after 0.05 s \(timeout-seconds\) waiting for i-1 to be running; last seen: pending\./
    )
  })

  it('does not wait past the deadline', async () => {
    const started = Date.now()
    await expect(
      poll(async () => undefined, {
        what: 'x',
        deadline: new Deadline(0.1),
        intervalMs: 1000
      })
    ).rejects.toThrow(TimeoutError)
    expect(Date.now() - started).toBeLessThan(600)
  })

  it('ends at once when the check throws', async () => {
    let calls = 0
    await expect(
      poll(
        async () => {
          calls++
          throw new Error('boom')
        },
        { what: 'x', deadline: new Deadline(10) }
      )
    ).rejects.toThrow('boom')
    expect(calls).toBe(1)
  })
})

describe('retryEventualConsistency', () => {
  it('retries *.NotFound until the resource is visible', async () => {
    let calls = 0
    const value = await retryEventualConsistency(
      async () => {
        calls++
        if (calls < 3) throw awsError('InvalidInstanceID.NotFound')
        return 'seen'
      },
      new Deadline(10),
      { intervalMs: 5, maxIntervalMs: 5 }
    )
    expect(value).toBe('seen')
    expect(calls).toBe(3)
  })

  it.each(['InvalidGroup.NotFound', 'InvalidAllocationID.NotFound', 'InvalidSubnetID.NotFound'])(
    'treats %s as eventual consistency',
    async code => {
      let calls = 0
      await retryEventualConsistency(
        async () => {
          if (++calls === 1) throw awsError(code)
        },
        new Deadline(10),
        { intervalMs: 1 }
      )
      expect(calls).toBe(2)
    }
  )

  it('passes other errors through at once, including InvalidPermission.NotFound', async () => {
    for (const code of ['UnauthorizedOperation', 'InvalidPermission.NotFound']) {
      let calls = 0
      const error = await retryEventualConsistency(async () => {
        calls++
        throw awsError(code)
      }, new Deadline(10)).catch(e => e)
      expect(error.name).toBe(code)
      expect(calls).toBe(1)
    }
  })

  it('retries only what the caller calls retryable', async () => {
    let calls = 0
    const error = await retryEventualConsistency(
      async () => {
        calls++
        throw awsError('InvalidKeyPair.NotFound')
      },
      new Deadline(10),
      { retryable: e => (e as Error).name === 'InvalidGroup.NotFound' }
    ).catch(e => e)
    expect(error.name).toBe('InvalidKeyPair.NotFound')
    expect(calls).toBe(1)
  })

  it("surfaces AWS's own NotFound once its bound is spent", async () => {
    let calls = 0
    const error = await retryEventualConsistency(
      async () => {
        calls++
        throw awsError('InvalidVpcID.NotFound', 'vpc-1 does not exist')
      },
      new Deadline(10),
      { maxMs: 60, intervalMs: 10, maxIntervalMs: 10 }
    ).catch(e => e)
    expect(error.name).toBe('InvalidVpcID.NotFound')
    expect(calls).toBeGreaterThan(1)
  })

  it('tries once more but never past the overall deadline', async () => {
    let calls = 0
    const error = await retryEventualConsistency(async () => {
      calls++
      throw awsError('InvalidGroup.NotFound')
    }, new Deadline(0)).catch(e => e)
    expect(error.name).toBe('InvalidGroup.NotFound')
    expect(calls).toBe(1)
  })
})

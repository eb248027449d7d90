import { errorCode, isNotFound } from './errors.js'

/** The run's overall deadline (timeout-seconds); every wait draws on the same budget. */
export class Deadline {
  private readonly end: number

  constructor(
    readonly seconds: number,
    private readonly now: () => number = Date.now
  ) {
    this.end = now() + seconds * 1000
  }

  remainingMs(): number {
    return Math.max(0, this.end - this.now())
  }

  expired(): boolean {
    return this.remainingMs() === 0
  }

  /** Throws a TimeoutError naming what was about to happen when the deadline has passed. */
  assert(what: string): void {
    if (this.expired()) throw new TimeoutError(what, this.seconds)
  }
}

export class TimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly seconds: number,
    readonly lastSeen?: string
  ) {
    super(
      `Timed out after ${seconds} s (timeout-seconds) ${what}` +
        (lastSeen === undefined ? '.' : `; last seen: ${lastSeen}.`) +
        ' Raise timeout-seconds if AWS is just slow today.'
    )
    this.name = 'TimeoutError'
  }
}

export interface PollOptions {
  /** What is awaited, phrased to follow "Timed out after N s": "waiting for i-… to be running". */
  what: string
  deadline: Deadline
  /** First pause between checks; default 200 ms. */
  intervalMs?: number
  /** Cap of the growing pause; default 1000 ms, so readiness is noticed within a second. */
  maxIntervalMs?: number
  /** Replaces the timer (tests record the pauses instead of sleeping). */
  sleep?: (ms: number) => Promise<void>
}

/** Lets a check record the state it saw, for the timeout message. */
export type Observe = (state: string) => void

const GROWTH = 1.5

export const sleep = (ms: number): Promise<void> =>
  new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))

/**
 * Calls `check` until it returns a value, pausing 200 ms at first and growing by half up to
 * a one-second cap — not the SDK waiters' 15 s minimum — so the caller moves on within about
 * half a second of readiness on average. Errors thrown by `check` end the wait at once.
 */
export async function poll<T>(
  check: (observe: Observe) => Promise<T | undefined>,
  options: PollOptions
): Promise<T> {
  const { deadline, what } = options
  let interval = options.intervalMs ?? 200
  const cap = Math.max(interval, options.maxIntervalMs ?? 1000)
  let lastSeen: string | undefined
  const observe: Observe = state => {
    lastSeen = state
  }
  for (;;) {
    const result = await check(observe)
    if (result !== undefined) return result
    const remaining = deadline.remainingMs()
    if (remaining === 0) throw new TimeoutError(what, deadline.seconds, lastSeen)
    await (options.sleep ?? sleep)(Math.min(interval, remaining))
    interval = Math.min(cap, Math.round(interval * GROWTH))
  }
}

export interface EventualConsistencyOptions {
  /** What the call is for, in the timeout message; default "waiting for AWS to see a new resource". */
  what?: string
  /** Upper bound of the retrying, within the deadline; default 60 s. */
  maxMs?: number
  intervalMs?: number
  maxIntervalMs?: number
  /** Narrows which errors count as "not visible yet"; default every resource `*.NotFound`. */
  retryable?: (error: unknown) => boolean
}

/**
 * EC2 is eventually consistent: for seconds after a create, other calls may answer
 * `*.NotFound` (InvalidInstanceID.NotFound, InvalidGroup.NotFound,
 * InvalidAllocationID.NotFound, …) for a resource that does exist. Retries `fn` on exactly
 * those codes, for at most `maxMs` and never past the deadline; other errors pass through.
 * Use it only for calls about a resource this run has just created or seen — for a name the
 * user typed, NotFound is the answer.
 */
export async function retryEventualConsistency<T>(
  fn: () => Promise<T>,
  deadline: Deadline,
  options: EventualConsistencyOptions = {}
): Promise<T> {
  const bound = new Deadline(Math.min(deadline.remainingMs(), options.maxMs ?? 60_000) / 1000)
  let lastError: unknown
  const outcome = await poll(
    async observe => {
      try {
        return { value: await fn() }
      } catch (error) {
        if (!(options.retryable ?? isNotFound)(error)) throw error
        lastError = error
        observe(errorCode(error) ?? 'NotFound')
        return undefined
      }
    },
    {
      what: options.what ?? 'waiting for AWS to see a new resource',
      deadline: bound,
      // A new resource usually becomes visible within a second; a NotFound retry is one cheap
      // call, so checking often keeps the run within moments of AWS being ready.
      intervalMs: options.intervalMs ?? 100,
      maxIntervalMs: options.maxIntervalMs ?? 500
    }
  ).catch(error => {
    // Past the bound the NotFound may be real: surface AWS's own error, not a timeout.
    if (error instanceof TimeoutError && lastError !== undefined) throw lastError
    throw error
  })
  return outcome.value
}

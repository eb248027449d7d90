// The rules a test sets on the fault proxy, and the matching that turns them into decisions for
// one call. Kept free of I/O so what a rule means can be read in one place.

/** One value for every action, or values per action name with an optional `default`. */
export type PerAction<T> = T | ({ default?: T } & { [action: string]: T | undefined })

export interface FaultRule {
  /** The action whose calls count, e.g. 'AssociateAddress' or 'GetParameter'; '*' for all. */
  action: string
  /**
   * Which calls of `action` fail, counted from 1 since the rules were set: one number (default
   * 1, i.e. fail once), several, or 'every'. Calls answered by throttling are not counted, so
   * "the 2nd call" means the 2nd call that would otherwise have been served.
   */
  at?: number | number[] | 'every'
  /** Error code to answer with, e.g. 'InvalidIPAddress.InUse', 'InternalError'. */
  error?: string
  /** HTTP status; defaults by code (see fault-proxy-errors.ts), else 400. */
  status?: number
  message?: string
  /** Destroy the client's socket without any answer instead of answering an error. */
  resetConnection?: boolean
  /**
   * Forward the call to moto first and fail only the answer: the change happens but the caller
   * never learns it (a lost response). Default false: moto never sees the call.
   */
  afterForward?: boolean
}

export interface FaultRules {
  /** Delay added before a call is answered or forwarded. */
  latencyMs?: PerAction<number>
  /** Share of calls (0..1) answered with throttling (EC2: 503 RequestLimitExceeded). */
  throttleRate?: PerAction<number>
  /**
   * For this long after a create (RunInstances, CreateSecurityGroup, AllocateAddress) the new
   * id does not exist for other calls: naming it answers *.NotFound, Describe* leave it out.
   */
  notFoundAfterCreateMs?: number
  /** Instances stay `pending` this long after RunInstances/StartInstances. */
  pendingMs?: number
  /** Instances stay `shutting-down` this long after TerminateInstances; default pendingMs. */
  shuttingDownMs?: number
  /** Instances stay `stopping` this long after StopInstances; default pendingMs. */
  stoppingMs?: number
  /** AssociateAddress naming a still-pending instance answers IncorrectInstanceState, as EC2 does. */
  incorrectStateWhilePending?: boolean
  /** DeleteSecurityGroup answers DependencyViolation while an instance in it is not terminated. */
  dependencyViolation?: boolean
  /**
   * On unless false: a RunInstances repeating an earlier ClientToken gets the earlier answer
   * (moto would launch again), or IdempotentParameterMismatch when its parameters differ.
   */
  clientTokenIdempotency?: boolean
  faults?: FaultRule[]
}

export function perAction<T>(value: PerAction<T> | undefined, action: string): T | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object') return value
  const table = value as { [action: string]: T | undefined }
  return table[action] ?? table.default
}

/** Counts calls per fault rule and says which rule, if any, fires for the next call. */
export class FaultMatcher {
  private readonly seen: number[]

  constructor(private readonly rules: readonly FaultRule[]) {
    this.seen = rules.map(() => 0)
  }

  next(action: string): FaultRule | undefined {
    let fired: FaultRule | undefined
    this.rules.forEach((rule, i) => {
      if (rule.action !== '*' && rule.action !== action) return
      const k = ++this.seen[i]
      if (fired) return
      const at = rule.at ?? 1
      if (at === 'every' || (Array.isArray(at) ? at.includes(k) : at === k)) fired = rule
    })
    return fired
  }
}

/** mulberry32: tiny, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function validateRules(rules: FaultRules): void {
  const checkAll = (name: string, value: PerAction<number> | undefined, max: number): void => {
    if (value === undefined) return
    const values = typeof value === 'number' ? [value] : Object.values(value)
    for (const v of values) {
      if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= max)) {
        throw new Error(`fault proxy: ${name} must be a number in 0..${max}, got ${String(v)}`)
      }
    }
  }
  checkAll('latencyMs', rules.latencyMs, Number.MAX_SAFE_INTEGER)
  checkAll('throttleRate', rules.throttleRate, 1)
  for (const key of [
    'notFoundAfterCreateMs',
    'pendingMs',
    'shuttingDownMs',
    'stoppingMs'
  ] as const) {
    checkAll(key, rules[key], Number.MAX_SAFE_INTEGER)
  }
  for (const f of rules.faults ?? []) {
    if (!f.action) throw new Error('fault proxy: a fault rule needs an action')
    if (!f.error && !f.resetConnection) {
      throw new Error(`fault proxy: fault on ${f.action} needs error or resetConnection`)
    }
  }
}

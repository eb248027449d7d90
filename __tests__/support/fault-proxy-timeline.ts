// The EC2 the proxy pretends to be: moto changes state instantly and shows a new id at once;
// this timeline says, per resource, until when it is still invisible or still in a transitional
// state, and when it truly became ready. Times are epoch milliseconds (Date.now()), so a
// benchmark in another process can compare them with its own clock.

export const STATE_CODES = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80
} as const

export type InstanceStateName = keyof typeof STATE_CODES
export type Transitional = 'pending' | 'shutting-down' | 'stopping'

const SETTLES_TO: Record<Transitional, ReadyMoment['state']> = {
  pending: 'running',
  'shutting-down': 'terminated',
  stopping: 'stopped'
}

export interface ReadyMoment {
  /** Instance id, or the id of a created group/address for 'visible'. */
  id: string
  /**
   * 'visible': the end of the eventual-consistency window after its create;
   * 'running' / 'stopped' / 'terminated': the end of the transitional state.
   */
  state: 'visible' | 'running' | 'stopped' | 'terminated'
  /** When the proxy passed on moto's answer to the call that started it. */
  requestedAt: number
  /** When it became so in the modelled timeline (requestedAt + the rule's duration). */
  at: number
}

interface Transition {
  state: Transitional
  until: number
}

export class Timeline {
  readonly readyMoments: ReadyMoment[] = []
  private readonly visibleAt = new Map<string, number>()
  private readonly transitions = new Map<string, Transition>()
  private readonly terminated = new Set<string>()

  constructor(private readonly now: () => number = Date.now) {}

  created(id: string, invisibleMs: number): void {
    const requestedAt = this.now()
    this.visibleAt.set(id, requestedAt + invisibleMs)
    this.readyMoments.push({ id, state: 'visible', requestedAt, at: requestedAt + invisibleMs })
  }

  /** Still inside its eventual-consistency window. */
  hidden(id: string): boolean {
    return (this.visibleAt.get(id) ?? 0) > this.now()
  }

  begin(id: string, state: Transitional, durationMs: number): void {
    const requestedAt = this.now()
    const until = requestedAt + durationMs
    this.transitions.set(id, { state, until })
    if (state === 'shutting-down') this.terminated.add(id)
    else this.terminated.delete(id)
    this.readyMoments.push({ id, state: SETTLES_TO[state], requestedAt, at: until })
  }

  /** The transitional state an instance is still in, or undefined when moto's state holds. */
  transitional(id: string): Transitional | undefined {
    const t = this.transitions.get(id)
    return t && t.until > this.now() ? t.state : undefined
  }

  /** A TerminateInstances for this instance already went through the proxy. */
  terminationRequested(id: string): boolean {
    return this.terminated.has(id)
  }

  clear(): void {
    this.readyMoments.length = 0
    this.visibleAt.clear()
    this.transitions.clear()
    this.terminated.clear()
  }
}

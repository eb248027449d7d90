// Reads the fault proxy's log for the waits a run went through. A wait is a resource that was
// not ready yet when some call needed it: a call answered *.NotFound inside its eventual-
// consistency window, or a Describe* that showed it still pending / shutting-down. The wait
// ends with the first call after the last such answer that repeats it and finds the resource
// ready; its slack is the time from the modelled ready moment to that call's answer, i.e. how
// long the action went on waiting for something that had already happened.
import { notFoundCode } from '../../__tests__/support/fault-proxy-ids.js'
import type { CallRecord, ReadyMoment } from '../../__tests__/support/fault-proxy.js'

export interface ProxyWait {
  resource: string
  /** What was awaited: 'visible', 'running', 'terminated', … */
  state: string
  /** Epoch ms: the call that started it (create, RunInstances, TerminateInstances) answered. */
  requestedAt: number
  /** Epoch ms: when it became so in the modelled timeline. */
  readyAt: number
  /** Calls that found it not ready yet. */
  blockedCalls: number
  /** The call that found it ready, and when its answer left the proxy. */
  observedBy: string
  observedAt: number
  slackMs: number
}

// The proxy decides on a call after its added latency, so that is when a call "looks".
const lookedAt = (c: CallRecord, latencyMs: number) => c.at + latencyMs
const answeredAt = (c: CallRecord) => c.at + c.ms

// What each awaited state looks like while it is not reached yet, in the proxy's notes.
const NOT_YET: Record<string, string[]> = {
  visible: ['hidden'],
  running: ['pending'],
  stopped: ['stopping'],
  terminated: ['shutting-down']
}

// Timers run late by a few ms: an injected NotFound (which does not name its id) is matched to
// a window with this much room.
const TOLERANCE_MS = 50

function blockedBy(c: CallRecord, m: ReadyMoment, latencyMs: number): boolean {
  const noted = (c.rewritten ?? []).some(n =>
    NOT_YET[m.state].some(s => n === `${m.id}:${s}` || n.startsWith(`${m.id}:${s}:`))
  )
  if (noted) return true
  const t = lookedAt(c, latencyMs)
  const inWindow = t >= m.requestedAt && t < m.at + TOLERANCE_MS
  if (m.state === 'visible') return inWindow && c.injected === notFoundCode(m.id)
  return inWindow && m.state === 'running' && c.injected === 'IncorrectInstanceState'
}

/** Every wait in `log`, in the order they ended. */
export function proxyWaits(
  log: readonly CallRecord[],
  moments: readonly ReadyMoment[],
  latencyMs: number
): ProxyWait[] {
  const calls = [...log].sort((a, b) => a.at - b.at)
  const byResource = new Map<string, ReadyMoment[]>()
  for (const m of moments) byResource.set(m.id, [...(byResource.get(m.id) ?? []), m])
  const waits: ProxyWait[] = []
  for (const [id, ms] of byResource) {
    // A resource may be awaited twice (visible, then running); the later moment ends the wait.
    const blocked: { call: CallRecord; moment: ReadyMoment }[] = []
    for (const call of calls) {
      const moment = ms.find(m => blockedBy(call, m, latencyMs))
      if (moment) blocked.push({ call, moment })
    }
    if (blocked.length === 0) continue
    const last = blocked[blocked.length - 1]
    const observer = calls.find(
      c =>
        c.at > last.call.at &&
        c.action === last.call.action &&
        !c.injected &&
        !ms.some(m => blockedBy(c, m, latencyMs))
    )
    if (!observer) continue
    // What the observer found is the latest state reached by then: an instance that was first
    // invisible and then pending was awaited until running.
    const seen = ms.filter(m => m.at <= lookedAt(observer, latencyMs) + TOLERANCE_MS)
    const ready = seen.reduce((a, b) => (b.at > a.at ? b : a), last.moment)
    waits.push({
      resource: id,
      state: ready.state,
      requestedAt: Math.min(...ms.map(m => m.requestedAt)),
      readyAt: ready.at,
      blockedCalls: blocked.length,
      observedBy: observer.action,
      observedAt: answeredAt(observer),
      slackMs: answeredAt(observer) - ready.at
    })
  }
  return waits.sort((a, b) => a.observedAt - b.observedAt)
}

export interface CallCount {
  total: number
  ec2: number
  ssm: number
  /** Calls that can change something (all but Describe*, Get*, List*). */
  mutating: number
  /** Calls per action, in order of first use. */
  byAction: Record<string, number>
  /** Answers the proxy gave instead of moto (throttling, NotFound windows, …). */
  injected: Record<string, number>
}

export const isMutating = (action: string) => !/^(Describe|Get|List)[A-Z]/.test(action)

export function countCalls(log: readonly CallRecord[]): CallCount {
  const byAction: Record<string, number> = {}
  const injected: Record<string, number> = {}
  for (const c of [...log].sort((a, b) => a.at - b.at)) {
    byAction[c.action] = (byAction[c.action] ?? 0) + 1
    if (c.injected) injected[c.injected] = (injected[c.injected] ?? 0) + 1
  }
  return {
    total: log.length,
    ec2: log.filter(c => c.service === 'ec2').length,
    ssm: log.filter(c => c.service === 'ssm').length,
    mutating: log.filter(c => isMutating(c.action)).length,
    byAction,
    injected
  }
}

// A fault proxy between the AWS SDK and moto that makes moto behave like EC2 under stress:
// latency, throttling, eventual consistency after creates, pending/shutting-down states,
// DependencyViolation, injected errors and connection resets. Point the SDK at `url`
// (AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_SSM or the client's `endpoint`). Rules are set per
// test and may change while it runs. EC2 (query protocol) gets the whole model; other services
// (SSM's JSON protocol) get latency, throttling and injected faults.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Ec2Model, type Prepared } from './fault-proxy-ec2.js'
import {
  injectedError,
  renderError,
  throttlingError,
  type InjectedError,
  type Protocol
} from './fault-proxy-errors.js'
import { encodeForm, identifyCall, type AwsCall } from './fault-proxy-request.js'
import {
  FaultMatcher,
  perAction,
  seededRandom,
  validateRules,
  type FaultRule,
  type FaultRules
} from './fault-proxy-rules.js'
import { Timeline, type ReadyMoment } from './fault-proxy-timeline.js'
import { Upstream } from './fault-proxy-upstream.js'

export type { FaultRule, FaultRules, PerAction } from './fault-proxy-rules.js'
export type { ReadyMoment } from './fault-proxy-timeline.js'

export interface FaultProxyOptions {
  /** moto's base URL, e.g. http://127.0.0.1:5000 */
  target: string
  /** Seed of the throttling PRNG; the same seed and call order throttle the same calls. */
  seed?: number
  rules?: FaultRules
}

export interface CallRecord {
  /** Signing name of the service: 'ec2', 'ssm'. */
  service: string
  action: string
  /** Arrival, epoch ms. */
  at: number
  /**
   * What the proxy did instead of moto's answer: an error code, 'connection-reset', or
   * 'ProxyError' (HTTP 502: moto unreachable — a harness failure, not a modelled fault).
   */
  injected?: string
  /** Whether moto saw the call (false when the proxy answered by itself). */
  forwarded: boolean
  /** HTTP status sent; 0 when the connection was reset. */
  status: number
  /** Arrival to answer, including added latency. */
  ms: number
  /** Changes made to moto's answer, e.g. ['i-0abc:pending', 'sg-0abc:hidden']. */
  rewritten?: string[]
  /** Form parameters of a query-protocol (EC2) call as the client sent them. */
  params?: Record<string, string>
}

export interface FaultProxyCounts {
  /** Calls per action (every HTTP request, retries included). */
  calls: Record<string, number>
  /** Injections per code ('RequestLimitExceeded', 'connection-reset', …). */
  injected: Record<string, number>
}

export interface FaultProxy {
  readonly url: string
  /** The rules in force (a copy; change them with setRules). */
  readonly rules: FaultRules
  /** Replaces all rules; fault rules count calls afresh from here. */
  setRules(rules: FaultRules): void
  /** Every AWS call, appended when answered. */
  readonly log: CallRecord[]
  /** When each resource truly became ready in the modelled timeline (see ReadyMoment). */
  readonly readyMoments: ReadyMoment[]
  counts(): FaultProxyCounts
  /** Forgets the log, ready moments, the modelled timeline and fault counts (not rules). */
  reset(): void
  stop(): Promise<void>
}

type Outcome =
  | { kind: 'answer'; status: number; headers: Record<string, string | string[]>; body: Buffer }
  | { kind: 'reset' }

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new Upstream(new URL(options.target))
  const timeline = new Timeline()
  const ec2 = new Ec2Model(timeline)
  const seed = options.seed ?? 0x5eed
  const log: CallRecord[] = []
  let random = seededRandom(seed)
  let rules: FaultRules = {}
  let faults = new FaultMatcher([])

  const setRules = (next: FaultRules): void => {
    validateRules(next)
    rules = structuredClone(next)
    faults = new FaultMatcher(rules.faults ?? [])
  }
  setRules(options.rules ?? {})

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now()
    const started = performance.now()
    const body = await readBody(req)
    const call = identifyCall(req.method, req.headers, body)
    if (!call) {
      // moto's own API (/moto-api/reset, …): not an AWS call, passed through untouched.
      send(res, await passThrough(req, body))
      return
    }
    // Rules as they were when the call arrived: a setRules meanwhile applies to later calls.
    const now = rules
    // Drawn on arrival so the throttled calls depend only on the order calls arrive in.
    const rate = perAction(now.throttleRate, call.action) ?? 0
    const throttled = rate > 0 && random() < rate
    const latency = perAction(now.latencyMs, call.action) ?? 0
    if (latency > 0) await sleep(latency)

    const record: CallRecord = {
      service: call.service,
      action: call.action,
      at,
      forwarded: false,
      status: 0,
      ms: 0,
      ...(call.params ? { params: Object.fromEntries(call.params) } : {})
    }
    let outcome: Outcome
    try {
      outcome = throttled
        ? injected(record, call.protocol, throttlingError(call.protocol))
        : await serve(req, body, call, now, record)
    } catch (e) {
      // moto unreachable or a shape the proxy does not know: a 502 the test will see.
      const error = injectedError('ProxyError', { status: 502, message: String(e) })
      outcome = injected(record, call.protocol, error)
    }
    if (outcome.kind === 'reset') {
      req.socket.destroy()
    } else {
      record.status = outcome.status
      send(res, outcome)
    }
    record.ms = performance.now() - started
    log.push(record)
  }

  async function serve(
    req: IncomingMessage,
    body: Buffer,
    call: AwsCall,
    now: FaultRules,
    record: CallRecord
  ): Promise<Outcome> {
    const fault = faults.next(call.action)
    if (fault && !fault.afterForward) return faultOutcome(record, call.protocol, fault)

    let prepared: Prepared | undefined
    let forwardBody = body
    if (call.service === 'ec2' && call.params) {
      const lookup = async (params: URLSearchParams): Promise<string> =>
        (await upstream.send('POST', '/', req.headers, encodeForm(params))).body.toString('utf8')
      prepared = await ec2.before(call.action, call.params, now, lookup)
      if (prepared.error) return injected(record, call.protocol, prepared.error)
      if (prepared.replay !== undefined) {
        record.rewritten = [`ClientToken ${call.params.get('ClientToken')}:replayed`]
        if (fault) return faultOutcome(record, call.protocol, fault)
        const body = Buffer.from(prepared.replay, 'utf8')
        return { kind: 'answer', status: 200, headers: { 'content-type': 'text/xml' }, body }
      }
      if (prepared.params !== call.params) forwardBody = encodeForm(prepared.params)
    }

    const answer = await upstream.send(
      req.method ?? 'POST',
      req.url ?? '/',
      req.headers,
      forwardBody
    )
    record.forwarded = true
    let answerBody = answer.body
    if (prepared && answer.status === 200) {
      const original = answer.body.toString('utf8')
      const { xml, notes } = ec2.after(call.action, prepared, original, now)
      if (notes.length > 0) record.rewritten = notes
      if (xml !== original) answerBody = Buffer.from(xml, 'utf8')
    }
    if (fault) return faultOutcome(record, call.protocol, fault)
    return { kind: 'answer', status: answer.status, headers: answer.headers, body: answerBody }
  }

  async function passThrough(req: IncomingMessage, body: Buffer): Promise<Outcome> {
    const answer = await upstream.send(req.method ?? 'GET', req.url ?? '/', req.headers, body)
    return { kind: 'answer', ...answer }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(e => {
      if (!res.headersSent) res.writeHead(502).end(String(e))
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    get rules() {
      return structuredClone(rules)
    },
    setRules,
    log,
    readyMoments: timeline.readyMoments,
    counts: () => countLog(log),
    reset() {
      log.length = 0
      ec2.clear()
      faults = new FaultMatcher(rules.faults ?? [])
      random = seededRandom(seed)
    },
    async stop() {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      upstream.close()
    }
  }
}

function injected(record: CallRecord, protocol: Protocol, error: InjectedError): Outcome {
  record.injected = error.code
  return { kind: 'answer', ...renderError(protocol, error) }
}

function faultOutcome(record: CallRecord, protocol: Protocol, fault: FaultRule): Outcome {
  if (fault.resetConnection) {
    record.injected = 'connection-reset'
    return { kind: 'reset' }
  }
  const error = injectedError(fault.error as string, {
    status: fault.status,
    message: fault.message
  })
  return injected(record, protocol, error)
}

function countLog(log: readonly CallRecord[]): FaultProxyCounts {
  const calls: Record<string, number> = {}
  const injectedCounts: Record<string, number> = {}
  for (const r of log) {
    calls[r.action] = (calls[r.action] ?? 0) + 1
    if (r.injected) injectedCounts[r.injected] = (injectedCounts[r.injected] ?? 0) + 1
  }
  return { calls, injected: injectedCounts }
}

function send(res: ServerResponse, outcome: Outcome): void {
  if (outcome.kind === 'reset') return
  res.writeHead(outcome.status, { ...outcome.headers, 'content-length': outcome.body.length })
  res.end(outcome.body)
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

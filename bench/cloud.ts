// Items 1 and 2 of issue 7: the action's waits against modelled EC2 timings, beside the SDK
// waiter a naive script would use, and the API calls of a fresh apply, a converged re-run, a
// plan and a destroy — all counted by the fault proxy between the SDK and moto, with every
// instance booted as a real Debian host by the fake cloud.
import { ImportKeyPairCommand } from '@aws-sdk/client-ec2'
import { generateEd25519KeyPair } from '../src/ssh/keys.js'
import { FakeCloud } from '../__tests__/support/fake-cloud.js'
import {
  startFaultProxy,
  type CallRecord,
  type FaultProxy,
  type FaultRules,
  type ReadyMoment
} from '../__tests__/support/fault-proxy.js'
import { startMoto, type Moto } from '../__tests__/support/moto.js'
import { startTestHost, type TestHost } from '../__tests__/support/test-host.js'
import { phaseLines, runBundle, type BundleRun } from './lib/bundle.js'
import { ModelledStates } from './lib/modelled-view.js'
import { naiveLaunch, removeNaive } from './lib/naive.js'
import { acceptedLogins, probeSsh, type SshProbeResult } from './lib/ssh-probe.js'
import { median } from './lib/stats.js'
import { countCalls, isMutating, proxyWaits, type CallCount, type ProxyWait } from './lib/waits.js'

/**
 * EC2 at about a tenth of its real pace where it is slow (pending → running takes tens of
 * seconds on EC2, 2 s here; an eventual-consistency window of up to a few seconds, 0.5 s here)
 * and at its real pace per call (100 ms is a typical EC2 API round trip from a runner).
 */
export const MODEL: FaultRules = {
  latencyMs: 100,
  pendingMs: 2000,
  shuttingDownMs: 2000,
  notFoundAfterCreateMs: 500,
  incorrectStateWhilePending: true,
  dependencyViolation: true
}
export const SCALE =
  'per-call latency at real pace (100 ms per EC2/SSM call); pending→running 2 s and the eventual-consistency window after a create 0.5 s, about a tenth of EC2 (tens of seconds, up to a few seconds)'
const LATENCY_MS = MODEL.latencyMs as number

/** Fresh apply → destroy cycles: the slack depends on where readiness falls between polls. */
export const CYCLES = 3
const OCTET = 77
const PASSWORD = 'bench-session-password-0123456789'

export interface Wait {
  what: string
  resource: string
  /** Ms after the bundle was spawned. */
  readyAt: number
  movedOnAt: number
  /** Time a perfect observer could not avoid after the ready moment (one handshake for SSH). */
  floorMs: number
  slackMs: number
  /**
   * Whether the run waited on it: false for a wait that went on alongside SSH and
   * provisioning (it ended after the SSH rule opened and before provisioning was over).
   */
  critical: boolean
  detail: string
}

export interface FreshRun {
  wallS: number
  waits: Wait[]
  totalSlackS: number
  criticalPathS: number
  ratio: number
  sshProbe: SshProbeResult
  hostBootMs: number
  /** The action's phase lines; endedAt in ms after the spawn. */
  phases: { phase: string; seconds: number; endedAt: number }[]
  /** Every AWS call: ms after the spawn, action, duration, and what the proxy did. */
  calls: { at: number; action: string; ms: number; injected?: string; rewritten?: string[] }[]
  destroyWaits: Wait[]
}

export interface RunCost {
  run: string
  code: number
  wallS: number
  changed: string
  calls: CallCount
  /** Names of the calls that can change something. */
  mutatingActions: string[]
  /** What the action's own summary says ("AWS API calls: N (M mutating)"). */
  actionSays: string
  /** SSH logins to the instance during the run (sshd's journal). */
  sshLogins: number
  phases: { phase: string; seconds: number }[]
}

export interface CloudResults {
  model: FaultRules & { scale: string }
  cycles: FreshRun[]
  /** An apply after a setting changed: the instance runs, Redis is re-provisioned over SSH. */
  reprovision?: Omit<FreshRun, 'destroyWaits'>
  summary: {
    medianTotalSlackS: number
    medianRatio: number
    medianWallS: number
    /** Median slack per kind of wait across the cycles. */
    byWait: { what: string; medianSlackMs: number; slacksMs: number[]; critical: boolean[] }[]
  }
  baseline: {
    what: string
    pendingS: number
    launchToMovedOnS: number
    slackS: number
    describeCalls: number
    action: { launchToMovedOnS: number[]; slackS: number[]; describeCalls: number[] }
  }
  costs: RunCost[]
  cloudErrors: string[]
}

interface Stack {
  moto: Moto
  proxy: FaultProxy
  states: ModelledStates
  cloud: FakeCloud
  env: Record<string, string>
  inputs: Record<string, string>
  operator: { privateKey: string; publicKey: string }
}

function snapshot(
  proxy: FaultProxy,
  states?: ModelledStates
): { log: CallRecord[]; moments: ReadyMoment[] } {
  states?.note()
  const copy = { log: structuredClone(proxy.log), moments: structuredClone(proxy.readyMoments) }
  proxy.reset()
  return copy
}

const KIND: Record<string, string> = {
  'sg-': 'security group',
  'i-': 'instance',
  'eipalloc-': 'Elastic IP'
}

function waitOf(w: ProxyWait, origin: number): Wait {
  const kind = Object.entries(KIND).find(([p]) => w.resource.startsWith(p))?.[1] ?? w.resource
  return {
    what: w.state === 'visible' ? `${kind} visible after its create` : `${kind} ${w.state}`,
    resource: w.resource,
    readyAt: w.readyAt - origin,
    movedOnAt: w.observedAt - origin,
    floorMs: 0,
    slackMs: w.slackMs,
    critical: true,
    detail: `${w.blockedCalls} call(s) found it not ready; ${w.observedBy} answered ${w.slackMs.toFixed(0)} ms after the ready moment`
  }
}

async function until<T>(what: string, deadline: number, get: () => T | undefined): Promise<T> {
  while (Date.now() < deadline) {
    const value = get()
    if (value !== undefined) return value
    await new Promise(r => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function journal(host: TestHost): Promise<string> {
  return (await host.exec('journalctl -u ssh -o json --no-pager')).stdout
}

function cost(name: string, run: BundleRun, log: CallRecord[], sshLogins: number): RunCost {
  return {
    run: name,
    code: run.code,
    wallS: (run.endedAt - run.startedAt) / 1000,
    changed: run.outputs.changed ?? '',
    calls: countCalls(log),
    mutatingActions: [...new Set(log.map(c => c.action).filter(isMutating))],
    actionSays: /AWS API calls: [^\n]*/.exec(run.summary)?.[0] ?? '',
    sshLogins,
    phases: phaseLines(run).map(p => ({ phase: p.phase, seconds: p.seconds }))
  }
}

function checkedMessage(name: string, run: BundleRun): string {
  const tail = run.lines
    .slice(-15)
    .map(l => `+${l.at - run.startedAt} ms ${l.text}`)
    .join('\n')
  return `${name} exited ${run.code}:\n${tail}`
}

function checked(name: string, run: BundleRun): BundleRun {
  if (run.code === 0) return run
  throw new Error(checkedMessage(name, run))
}

/**
 * One apply that provisions over SSH (a fresh one, or a re-provision after a change), with the
 * moment SSH became reachable found by probing from the runner and the moment the action's
 * login was accepted read from sshd's journal.
 */
async function measuredApply(
  s: Stack,
  inputs: Record<string, string>,
  name: string,
  costs: RunCost[] | undefined
) {
  const started = Date.now()
  // The action says when its SSH rule is in (after AuthorizeSecurityGroupIngress answered):
  // before that moment the runner may not count as able to reach sshd.
  let sshRuleAt: number | undefined
  const applying = runBundle(inputs, s.env, {
    onLine: line => {
      if (sshRuleAt === undefined && /^Opened SSH from /.test(line.text)) sshRuleAt = line.at
    }
  })
  const watching = (async () => {
    // Probing starts only once the host (and so its network) exists: before that the address
    // would route out of the machine.
    const host = await until('a host for the instance', started + 180_000, () =>
      [...s.cloud.hosts.values()].map(m => m.host).find(Boolean)
    )
    const probe = await probeSsh({
      address: host.address,
      username: 'ubuntu',
      privateKey: s.operator.privateKey,
      notBefore: () => sshRuleAt,
      deadline: started + 180_000
    })
    return { host, probe }
  })()
  watching.catch(() => undefined)
  const finished = await applying
  if (finished.code !== 0) {
    // What the instance's host saw, to tell a harness problem from the action's.
    const host = [...s.cloud.hosts.values()][0]?.host
    const seen = host
      ? (await host.exec('journalctl --no-pager -n 40 -o short-precise')).stdout
      : '(no host booted)'
    throw new Error(`${checkedMessage(name, finished)}\n--- host journal ---\n${seen}`)
  }
  const run = finished
  const { host, probe } = await watching
  const { log, moments } = snapshot(s.proxy, s.states)

  const logins = acceptedLogins(await journal(host)).filter(l => l.at >= started)
  const probeLogin = logins.find(l => l.port === probe.loginPort)
  const actionLogin = logins.find(l => l.port !== probe.loginPort)
  if (!probeLogin || !actionLogin)
    throw new Error(`sshd's journal lacks the logins: ${JSON.stringify(logins)}`)
  const handshakeMs = probeLogin.at - probe.loginStartedAt
  const sshWait: Wait = {
    what: 'SSH reachable from the runner',
    resource: `${host.address}:22`,
    readyAt: probe.reachableAt - started,
    movedOnAt: actionLogin.at - started,
    floorMs: handshakeMs,
    slackMs: actionLogin.at - probe.reachableAt - handshakeMs,
    critical: true,
    detail: `host booted and its firewall let the runner in ${(probe.reachableAt - started).toFixed(0)} ms after the spawn (probed every ${probe.resolutionMs} ms); the action's login was accepted ${(actionLogin.at - probe.reachableAt).toFixed(0)} ms later, ${handshakeMs.toFixed(0)} ms of which one SSH handshake needs`
  }
  const provisioned = phaseLines(run).find(p => p.phase === 'provision')?.at ?? run.endedAt
  const alongside = (w: ProxyWait) =>
    sshRuleAt !== undefined && w.observedAt > sshRuleAt && w.observedAt < provisioned
  const waits = [
    ...proxyWaits(log, moments, LATENCY_MS).map(w => ({
      ...waitOf(w, started),
      critical: !alongside(w)
    })),
    sshWait
  ]
  const wallMs = run.endedAt - run.startedAt
  const slackMs = waits.reduce((sum, w) => sum + (w.critical ? Math.max(0, w.slackMs) : 0), 0)
  costs?.push(cost(name, run, log, logins.length - 1))

  const launch = log.find(c => c.action === 'RunInstances' && c.status === 200)
  const running = waits.find(w => w.what === 'instance running')
  const fresh: Omit<FreshRun, 'destroyWaits'> = {
    wallS: wallMs / 1000,
    waits,
    totalSlackS: slackMs / 1000,
    criticalPathS: (wallMs - slackMs) / 1000,
    ratio: wallMs / (wallMs - slackMs),
    sshProbe: {
      ...probe,
      reachableAt: probe.reachableAt - started,
      loginStartedAt: probe.loginStartedAt - started
    },
    hostBootMs: host.timings.bootMs,
    phases: phaseLines(run).map(p => ({
      phase: p.phase,
      seconds: p.seconds,
      endedAt: p.at - started
    })),
    calls: log.map(c => ({
      at: c.at - started,
      action: c.action,
      ms: Math.round(c.ms),
      ...(c.injected ? { injected: c.injected } : {}),
      ...(c.rewritten ? { rewritten: c.rewritten } : {})
    }))
  }
  const instanceWait =
    launch && running
      ? {
          launchToMovedOnS: (running.movedOnAt + started - (launch.at + launch.ms)) / 1000,
          slackS: running.slackMs / 1000,
          describeCalls: log.filter(c => c.action === 'DescribeInstances' && c.at > launch.at)
            .length
        }
      : undefined
  return { fresh, host, instanceWait }
}

async function startStack(): Promise<{
  stack: Omit<Stack, 'cloud' | 'states'>
  vpc: { subnet: string; baselineSubnet: string; group: string; app: string }
  stops: (() => Promise<void>)[]
}> {
  const stops: (() => Promise<void>)[] = []
  const moto = await startMoto()
  stops.push(() => moto.stop())
  try {
    const vpc = await moto.createTestVpc({ octet: OCTET })
    const operator = generateEd25519KeyPair('bench-operator')
    await moto.ec2.send(
      new ImportKeyPairCommand({
        KeyName: 'bench',
        PublicKeyMaterial: Buffer.from(operator.publicKey)
      })
    )
    const proxy = await startFaultProxy({ target: moto.url, rules: MODEL })
    stops.unshift(() => proxy.stop())
    // An OpenEMR application server in the VPC: it also gives the runner its address there
    // (the subnet's .1), which ssh-via private requires of the runner.
    const app = await startTestHost({
      name: 'bench-app',
      address: `10.${OCTET}.1.200`,
      prefix: 24,
      loginUser: 'ubuntu'
    })
    stops.unshift(() => app.stop())
    return {
      stack: {
        moto,
        proxy,
        env: { ...moto.env, AWS_ENDPOINT_URL_EC2: proxy.url, AWS_ENDPOINT_URL_SSM: proxy.url },
        operator,
        inputs: {
          'vpc-id': vpc.vpcId,
          'aws-region': moto.region,
          'subnet-id': vpc.publicSubnetId,
          'ssh-via': 'private',
          'key-name': 'bench',
          'ssh-private-key': operator.privateKey,
          'redis-password': PASSWORD,
          'timeout-seconds': '600'
        }
      },
      vpc: {
        subnet: vpc.publicSubnetId,
        baselineSubnet: vpc.privateSubnetId,
        group: vpc.defaultGroupId,
        app: app.address
      },
      stops
    }
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined)
    throw error
  }
}

export async function cloudBench(progress: (s: string) => void): Promise<CloudResults> {
  const { stack: base, vpc, stops } = await startStack()
  try {
    const { moto, proxy } = base
    // The baseline first, before the fake cloud runs: its instance is never booted as a host.
    progress('baseline: RunInstances + waitUntilInstanceRunning at the SDK defaults')
    const naive = await naiveLaunch({
      endpoint: proxy.url,
      region: moto.region,
      subnetId: vpc.baselineSubnet,
      groupId: vpc.group
    })
    const naiveRun = snapshot(proxy)
    await removeNaive(moto.ec2, naive.instanceId)
    const naiveWait = proxyWaits(naiveRun.log, naiveRun.moments, LATENCY_MS).find(
      w => w.resource === naive.instanceId && w.state === 'running'
    )
    const pending = naiveRun.moments.find(m => m.id === naive.instanceId && m.state === 'running')

    const states = new ModelledStates(proxy)
    const modelled = states.view(moto)
    stops.unshift(async () => modelled.ec2.destroy())
    const cloud = new FakeCloud(modelled, {
      keyPairs: { bench: base.operator.publicKey },
      prefix: 'bench'
    })
    cloud.addMember(vpc.group, vpc.app)
    cloud.start()
    stops.unshift(() => cloud.stop())
    const s: Stack = { ...base, cloud, states }

    const costs: RunCost[] = []
    const cycles: FreshRun[] = []
    const instanceWaits: NonNullable<Awaited<ReturnType<typeof measuredApply>>['instanceWait']>[] =
      []
    let reprovision: Omit<FreshRun, 'destroyWaits'> | undefined
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      progress(`fresh apply ${cycle}/${CYCLES} (bundle under Node 24, modelled EC2, real host)`)
      const inputs = s.inputs
      const { fresh, host, instanceWait } = await measuredApply(
        s,
        inputs,
        'fresh apply',
        cycle === 1 ? costs : undefined
      )
      if (instanceWait) instanceWaits.push(instanceWait)
      const sessions = async () => acceptedLogins(await journal(host)).length
      if (cycle === 1) {
        for (const [name, extra] of [
          ['converged re-run', {}],
          ['plan', { mode: 'plan' }]
        ] as const) {
          progress(name)
          const before = await sessions()
          const run = checked(name, await runBundle({ ...inputs, ...extra }, s.env))
          costs.push(cost(name, run, snapshot(proxy, s.states).log, (await sessions()) - before))
        }
        // A changed setting on a running instance: SSH opens on a host that is already up.
        progress('re-provision (redis-maxmemory changed)')
        reprovision = (
          await measuredApply(s, { ...inputs, 'redis-maxmemory': '256mb' }, 're-provision', costs)
        ).fresh
      }
      progress(`destroy ${cycle}/${CYCLES}`)
      const destroyed = checked('destroy', await runBundle({ ...inputs, mode: 'destroy' }, s.env))
      const destroyRun = snapshot(proxy, s.states)
      if (cycle === 1) costs.push(cost('destroy', destroyed, destroyRun.log, 0))
      cycles.push({
        ...fresh,
        destroyWaits: proxyWaits(destroyRun.log, destroyRun.moments, LATENCY_MS).map(w =>
          waitOf(w, destroyed.startedAt)
        )
      })
      // The next cycle's probe must find the next instance's host, not this one.
      await until('the host to be gone', Date.now() + 60_000, () =>
        cloud.hosts.size === 0 ? true : undefined
      )
    }

    const kinds = [...new Set(cycles.flatMap(c => c.waits.map(w => w.what)))]
    return {
      model: { ...MODEL, scale: SCALE },
      cycles,
      reprovision,
      summary: {
        medianTotalSlackS: median(cycles.map(c => c.totalSlackS)),
        medianRatio: median(cycles.map(c => c.ratio)),
        medianWallS: median(cycles.map(c => c.wallS)),
        byWait: kinds.map(what => {
          const these = cycles.flatMap(c => c.waits.filter(w => w.what === what))
          const slacksMs = these.map(w => w.slackMs)
          return {
            what,
            medianSlackMs: median(slacksMs),
            slacksMs,
            critical: these.map(w => w.critical)
          }
        })
      },
      baseline: {
        what: 'RunInstances, then waitUntilInstanceRunning from @aws-sdk/client-ec2 at its defaults (minDelay 15 s, maxDelay 120 s), through the same proxy rules',
        pendingS: pending ? (pending.at - pending.requestedAt) / 1000 : NaN,
        launchToMovedOnS: (naive.movedOnAt - naive.launchedAt) / 1000,
        slackS: naiveWait ? naiveWait.slackMs / 1000 : NaN,
        describeCalls: naiveRun.log.filter(c => c.action === 'DescribeInstances').length,
        action: {
          launchToMovedOnS: instanceWaits.map(w => w.launchToMovedOnS),
          slackS: instanceWaits.map(w => w.slackS),
          describeCalls: instanceWaits.map(w => w.describeCalls)
        }
      },
      costs,
      cloudErrors: [...cloud.errors]
    }
  } finally {
    for (const stop of stops) await stop().catch(() => undefined)
  }
}

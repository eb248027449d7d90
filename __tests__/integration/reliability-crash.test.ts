// The crash matrix: the committed bundle, through the fault proxy in front of moto, fails at
// every mutating EC2 call of a fresh apply in turn, and at the SSH step; it loses the answer of
// each create; and it is killed while SSH is open. Whatever happens, no SSH rule may stay open
// and no deployment lock may outlive the post step; with cleanup-on-failure nothing of the
// deployment may remain, and without it a plain re-run must converge to a healthy, locked-down
// host.
//
// The mutating calls are not listed here: a clean apply through the proxy lists them first, so
// the matrix follows the action as it changes. Each case uses a deployment of its own (its own
// tag and group name), so cases cannot see each other's resources. The two halves of the
// matrix run at the same time on two stacks (each its own moto, proxy and subnet): most of a
// case is waiting for hosts and SSH, not CPU.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { isMutating } from '../../src/aws/client.js'
import type { CallRecord } from '../support/fault-proxy.js'
import { motoUnavailable } from '../support/moto.js'
import { forgetNeighbour, neighbourAnswered, runnerReaches } from '../support/reliability-probes.js'
import { recordCase, type CaseRecord } from '../support/reliability-record.js'
import { firstError, phases, ReliabilityStack } from '../support/reliability-stack.js'
import { testHostPrerequisites } from '../support/test-host.js'

const reason = motoUnavailable() ?? testHostPrerequisites()
const suite = reason ? describe.skip : describe
if (reason) console.warn(`Skipping the reliability crash matrix: ${reason}`)

const PASSWORD = 'crash-matrix-session-password-42'
// What IAM answers when the role lacks a permission: HTTP 403, never retried by the SDK, so
// the run fails exactly at the call that got it.
const FAULT = { error: 'UnauthorizedOperation', status: 403 }
// The call reaches EC2 and takes effect, but the connection drops before the answer: the SDK
// sends it again, and the action must not end up with two of anything.
const LOST_ANSWER = { resetConnection: true, afterForward: true }
const CREATES = ['CreateSecurityGroup', 'AllocateAddress', 'RunInstances']
// A run that fails at a fault should end within this (provisioning included, on a busy
// machine); the deadline of a case's runs is twice it, so a run that waits for its deadline
// instead of failing shows.
const SLOW_FAILURE_S = 90

/** The k-th call of an action in a fresh apply. */
interface Step {
  action: string
  k: number
  /** The temporary SSH rule: after it the run needs a host to talk to. */
  opensSsh: boolean
}

/** The mutating EC2 calls moto saw, numbered per action as the proxy's fault rules count. */
function mutatingSteps(log: readonly CallRecord[]): Step[] {
  const counts = new Map<string, number>()
  const steps: Step[] = []
  for (const r of log) {
    if (r.service !== 'ec2' || !isMutating(r.action)) continue
    const k = (counts.get(r.action) ?? 0) + 1
    counts.set(r.action, k)
    if (!r.forwarded) continue
    const opensSsh =
      r.action === 'AuthorizeSecurityGroupIngress' &&
      Object.entries(r.params ?? {}).some(([key, v]) => /FromPort$/.test(key) && v === '22')
    steps.push({ action: r.action, k, opensSsh })
  }
  return steps
}

const label = (s: Step) => `${s.action} #${s.k}`
const started = () => performance.now()
const seconds = (t: number) => Number(((performance.now() - t) / 1000).toFixed(1))

/** Problems of every case, listed together: one broken case must not hide the others. */
const failures = (records: CaseRecord[]) =>
  records
    .filter(r => !r.survived || r.secrets.length > 0)
    .map(r => ({
      case: r.name,
      leaked: r.leaked,
      sshOpen: r.sshOpen,
      secrets: r.secrets,
      ...r.detail
    }))

suite('reliability: a failure at every step of a fresh apply (bundle, moto, real hosts)', () => {
  // a: the clean run, cleanup-on-failure: true, kills, lost answers. b: cleanup-on-failure:
  // false (a re-run each). More stacks would not help: provisioning (apt inside the hosts)
  // is what takes the time, and it is CPU-bound.
  let a: ReliabilityStack
  let b: ReliabilityStack
  let steps: Step[] = []
  let deployments = 0
  const newDeployment = () => `crash-${++deployments}`
  let keepLane: Promise<CaseRecord[]> | undefined

  beforeAll(async () => {
    ;[a, b] = await Promise.all([
      ReliabilityStack.start({ octet: 41, prefix: 'rca', password: PASSWORD }),
      ReliabilityStack.start({ octet: 44, prefix: 'rcb', password: PASSWORD })
    ])
  }, 180_000)

  afterAll(async () => {
    await keepLane?.catch(() => undefined)
    await Promise.all([a?.stop(), b?.stop()])
  }, 120_000)

  it('lists the mutating EC2 calls of a clean fresh apply', async () => {
    const t = started()
    const inputs = a.inputs(newDeployment())
    a.startCloud()
    a.proxy.setRules({})
    a.proxy.reset()
    const clean = await a.run(inputs)
    steps = mutatingSteps(a.proxy.log)
    const wrong = clean.code === 0 ? [] : [`clean apply failed: ${firstError(clean)}`]
    if (clean.code === 0)
      wrong.push(...(await a.unhealthy(clean.outputs['instance-id'], clean.outputs['private-ip'])))
    const leaked = await a.destroy(inputs)
    await a.stopCloud()
    const sshOpen = await a.sshRules()
    recordCase({
      category: 'crash',
      name: 'clean fresh apply (baseline), then destroy',
      faults: 0,
      runs: 2,
      survived: wrong.length === 0 && leaked.length === 0 && sshOpen.length === 0,
      leaked,
      sshOpen,
      secrets: [],
      seconds: seconds(t),
      detail: { mutatingCalls: steps.map(label), phases: phases(clean), problems: wrong }
    })
    expect(wrong).toEqual([])
    expect(leaked).toEqual([])
    expect(sshOpen).toEqual([])
    // The guide's resources and the temporary SSH window must all be in the list.
    const actions = steps.map(s => s.action)
    for (const action of [...CREATES, 'AssociateAddress', 'RevokeSecurityGroupIngress'])
      expect(actions).toContain(action)
    expect(steps.filter(s => s.opensSsh)).toHaveLength(1)
    // The other half of the matrix starts now, on a stack of its own, while this one goes on.
    keepLane = matrix(b, false, [...steps, 'ssh'])
    keepLane.catch(() => undefined)
  }, 300_000)

  /**
   * One case: the fault at `step` (or a host that refuses SSH), the post step, then the
   * checks. Returns its record; the tests assert over all records of a half at once.
   */
  async function crashCase(
    stack: ReliabilityStack,
    step: Step | 'ssh',
    cleanup: boolean
  ): Promise<CaseRecord> {
    const t = started()
    const what =
      step === 'ssh' ? 'SSH login refused by the host' : `${FAULT.error} at ${label(step)}`
    const inputs = stack.inputs(newDeployment(), {
      'cleanup-on-failure': String(cleanup),
      'timeout-seconds': String(2 * SLOW_FAILURE_S)
    })
    const problems: string[] = []
    const hitsBefore = stack.secretHits.length
    let runs = 0

    // The SSH fault: the host creates its login user as 'admin' while the action logs in as
    // 'ubuntu', so sshd refuses the key after the SSH rule was opened (as with a wrong ssh-user).
    // Otherwise hosts boot for whatever instance runs: none where the fault comes before
    // RunInstances, and provisioning overlaps the instance and address steps, so any fault
    // from RunInstances on may meet a run already talking to its host.
    stack.startCloud(step === 'ssh' ? { loginUser: 'admin' } : {})

    stack.proxy.reset()
    stack.proxy.setRules(
      step === 'ssh' ? {} : { faults: [{ action: step.action, at: step.k, ...FAULT }] }
    )
    const failing = started()
    const failed = await stack.run(inputs)
    const failSeconds = seconds(failing)
    stack.proxy.setRules({})
    const injected = stack.proxy.counts().injected[FAULT.error] ?? 0
    // A fault must end the run soon, not at its deadline (timeout-seconds).
    if (failSeconds > SLOW_FAILURE_S)
      problems.push(`the faulted run took ${failSeconds} s (more than ${SLOW_FAILURE_S} s)`)
    if (step !== 'ssh' && injected !== 1) problems.push(`${injected} faults injected, not 1`)
    if (step === 'ssh' && !/rejected the SSH key/.test(failed.stdout))
      problems.push(`not failed by the SSH login: ${firstError(failed)}`)
    // Main alone must close SSH; the post step (which the runner always runs) comes after.
    const sshAfterMain = await stack.sshRules()
    const post = await stack.post(inputs, failed)
    runs += 2
    if (post.code !== 0) problems.push(`post step failed: ${firstError(post)}`)
    const locks = await stack.locks()
    if (locks.length > 0) problems.push(`deployment lock left after the post step: ${locks}`)

    // A fault the action may absorb (freeing the lock: a warning, the post step frees it)
    // leaves a run that succeeded: then the deployment must simply be healthy.
    const tolerated = failed.code === 0
    let leaked: string[]
    if (tolerated) {
      problems.push(
        ...(await stack.unhealthy(failed.outputs['instance-id'], failed.outputs['private-ip']))
      )
      leaked = await stack.destroy(inputs)
      runs++
    } else if (cleanup) {
      leaked = await stack.leftovers(inputs.deployment)
    } else {
      // A plain re-run, with no faults, picks up what the failed run left. The host stays, as
      // an instance keeps its disk; only the one that refused the login is replaced.
      if (step === 'ssh') await stack.stopCloud()
      problems.push(...(await stack.converges(inputs)))
      leaked = await stack.destroy(inputs)
      runs += 2
    }
    const sshOpen = [...new Set([...sshAfterMain, ...(await stack.sshRules())])]
    const cloudErrors = await stack.stopCloud()
    // Only where a host had to serve a run that must succeed: a rollback deleting the group
    // while the harness boots a host for the instance is a race of the harness, not a fault.
    if (tolerated || !cleanup) problems.push(...cloudErrors.map(e => `test host: ${e}`))
    return {
      category: step === 'ssh' ? 'provision' : 'crash',
      name: `${what}, cleanup-on-failure: ${cleanup}`,
      faults: step === 'ssh' ? 1 : injected,
      runs,
      survived: problems.length === 0 && leaked.length === 0 && sshOpen.length === 0,
      leaked,
      sshOpen,
      secrets: stack.secretHits.slice(hitsBefore),
      seconds: seconds(t),
      detail: {
        error: tolerated ? '' : firstError(failed),
        tolerated,
        problems,
        failSeconds,
        phases: phases(failed)
      }
    }
  }

  async function matrix(
    stack: ReliabilityStack,
    cleanup: boolean,
    cases: (Step | 'ssh')[]
  ): Promise<CaseRecord[]> {
    const records: CaseRecord[] = []
    for (const step of cases) {
      const record = await crashCase(stack, step, cleanup)
      recordCase(record)
      records.push(record)
    }
    return records
  }

  it('cleanup-on-failure: true — nothing of the deployment remains, SSH closed', async () => {
    expect(steps.length).toBeGreaterThan(0)
    const records = await matrix(a, true, [...steps, 'ssh'])
    expect(failures(records)).toEqual([])
    expect(records).toHaveLength(steps.length + 1)
  }, 600_000)

  it.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)(
    'killed by %s while SSH is open: the post step closes it',
    async signal => {
      const t = started()
      const inputs = a.inputs(newDeployment())
      const hitsBefore = a.secretHits.length
      a.startCloud()
      a.proxy.reset()
      const controller = new AbortController()
      const running = a.run(inputs, { signal: controller.signal, killSignal: signal })
      let openAtKill: string[] = []
      let ended = false
      void running.finally(() => (ended = true))
      // Kill at the first moment moto holds a port 22 rule: the SSH window is open.
      while (!ended) {
        openAtKill = await a.sshRules()
        if (openAtKill.length > 0) {
          controller.abort()
          break
        }
        await new Promise(r => setTimeout(r, 50))
      }
      const killed = await running
      const instance = await a.instanceOf(inputs.deployment)
      const post = await a.post(inputs, killed)
      const sshOpen = await a.sshRules()
      const locks = await a.locks()
      // Knock on port 22 once the host is up and its firewall follows moto (a host still
      // booting has none yet), and check it answered ARP: refused for the right reason.
      let reachable = false
      let answered = true
      if (instance) {
        await a.cloud!.waitForHost(instance.id)
        await a.cloud!.synced()
        await forgetNeighbour(instance.ip)
        reachable = await runnerReaches(instance.ip, 22)
        answered = await neighbourAnswered(instance.ip)
      }
      const leaked = await a.destroy(inputs)
      await a.stopCloud()
      const record: CaseRecord = {
        category: 'kill',
        name: `${signal} while the SSH rule is open, then the post step`,
        faults: 1,
        runs: 3,
        survived:
          openAtKill.length > 0 &&
          post.code === 0 &&
          sshOpen.length === 0 &&
          locks.length === 0 &&
          !reachable &&
          answered &&
          leaked.length === 0,
        leaked,
        sshOpen,
        secrets: a.secretHits.slice(hitsBefore),
        seconds: seconds(t),
        detail: {
          openAtKill,
          locksAfterPost: locks,
          post: post.stdout.split('\n').filter(l => /SSH|lock/.test(l))
        }
      }
      recordCase(record)
      // The kill landed while the rule was open, and main had saved it for the post step.
      expect(openAtKill).not.toEqual([])
      expect(killed.code).not.toBe(0)
      expect(killed.state.openSshRule).toContain('"port":22')
      expect(post.code).toBe(0)
      expect(post.stdout).toMatch(/Closed 1 SSH rule/)
      expect(sshOpen).toEqual([])
      expect(locks).toEqual([])
      expect(reachable).toBe(false)
      expect(answered).toBe(true)
      expect(leaked).toEqual([])
      expect(record.secrets).toEqual([])
    },
    300_000
  )

  // All three creates lose their answer in one run (one provisioning instead of three); each
  // resource is then counted on its own.
  let lost: { found: Record<string, number>; problems: string[] } | undefined

  it('lost answers (EC2 acted, the connection reset) at every create: the run succeeds', async () => {
    const t = started()
    const inputs = a.inputs(newDeployment())
    const hitsBefore = a.secretHits.length
    const creates = CREATES.map(action => steps.find(s => s.action === action))
    expect(creates).not.toContain(undefined)
    a.startCloud()
    a.proxy.reset()
    a.proxy.setRules({
      faults: creates.map(s => ({ action: s!.action, at: s!.k, ...LOST_ANSWER }))
    })
    const run = await a.run(inputs)
    const resets = a.proxy.counts().injected['connection-reset'] ?? 0
    a.proxy.setRules({})
    const problems: string[] = []
    if (resets !== CREATES.length)
      problems.push(`${resets} connections reset, not ${CREATES.length}`)
    if (run.code !== 0) problems.push(`the run failed: ${firstError(run)}`)
    else
      problems.push(...(await a.unhealthy(run.outputs['instance-id'], run.outputs['private-ip'])))
    const post = await a.post(inputs, run)
    if (post.code !== 0) problems.push(`post step failed: ${firstError(post)}`)
    const live = await a.leftovers(inputs.deployment)
    const count = (re: RegExp) =>
      new Set(live.filter(r => re.test(r)).map(r => r.split(' ')[1])).size
    const found = {
      groups: count(/^security-group /),
      instances: count(/^instance /),
      addresses: count(/^(vpc-)?elastic-ip /)
    }
    const extra = Object.entries(found)
      .filter(([, n]) => n !== 1)
      .map(([kind, n]) => `${n} ${kind}`)
    const sshOpen = await a.sshRules()
    const leftAfterDestroy = await a.destroy(inputs)
    await a.stopCloud()
    lost = { found, problems }
    const record: CaseRecord = {
      category: 'crash',
      name: `lost answers at ${creates.map(s => label(s!)).join(', ')} (EC2 acted, the connection reset; the SDK retried)`,
      faults: resets,
      runs: 3,
      survived:
        problems.length === 0 &&
        extra.length === 0 &&
        sshOpen.length === 0 &&
        leftAfterDestroy.length === 0,
      // An orphan (a second resource the run never learnt of) is a leak until destroy.
      leaked: [...(extra.length > 0 ? live : []), ...leftAfterDestroy],
      sshOpen,
      secrets: a.secretHits.slice(hitsBefore),
      seconds: seconds(t),
      detail: { ...found, problems: [...problems, ...extra] }
    }
    recordCase(record)
    expect(problems).toEqual([])
    expect(sshOpen).toEqual([])
    expect(leftAfterDestroy).toEqual([])
  }, 300_000)

  it('a lost CreateSecurityGroup answer: still one group', () => {
    expect(lost?.found.groups).toBe(1)
  })

  it('a lost RunInstances answer: still one instance (ClientToken)', () => {
    expect(lost?.found.instances).toBe(1)
  })

  // AllocateAddress takes no ClientToken: the token tag lets the run release a retry's extra.
  it('a lost AllocateAddress answer: still one address', () => {
    expect(lost?.found.addresses).toBe(1)
  })

  it('cleanup-on-failure: false — a plain re-run converges to a healthy, locked-down host', async () => {
    expect(keepLane).toBeDefined()
    const records = await keepLane!
    expect(failures(records)).toEqual([])
    expect(records).toHaveLength(steps.length + 1)
  }, 900_000)

  it('showed no secret in any run', () => {
    expect(a.runs + b.runs).toBeGreaterThan(0)
    expect([...a.secretHits, ...b.secretHits]).toEqual([])
  })
})

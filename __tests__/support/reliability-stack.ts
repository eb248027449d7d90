// One test file's world for the reliability suite: moto behind the fault proxy, a VPC on the
// file's own subnet octet, an imported key pair, an OpenEMR application server (a test host in
// the client security group) and an outsider (a test host on the same subnet, in no group).
// Every run of the bundle goes through `run`, which scans it for secrets.
import { DescribeInstancesCommand, ImportKeyPairCommand } from '@aws-sdk/client-ec2'
import { DEPLOYMENT_TAG } from '../../src/aws/tags.js'
import { generateEd25519KeyPair } from '../../src/ssh/keys.js'
import { FakeCloud, type FakeCloudOptions } from './fake-cloud.js'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { startMoto, type Moto, type TestVpc } from './moto.js'
import {
  forgetNeighbour,
  liveResources,
  locksHeld,
  neighbourAnswered,
  sessionRoundTrip,
  sshRulesOpen,
  runnerReaches
} from './reliability-probes.js'
import { secretsInRun, type Secret } from './reliability-secrets.js'
import { runAction, snapshotBundle, type ActionRun, type RunActionOptions } from './run-action.js'
import { startTestHost, type TestHost } from './test-host.js'

export const KEY_NAME = 'reliability'

/** The first ::error:: line of a run, or the end of stderr when the bundle died without one. */
export function firstError(run: ActionRun): string {
  const line = /^::error[^:]*::(.*)$/m.exec(run.stdout)?.[1]
  if (line === undefined) return `exit ${run.code}: ${run.stderr.slice(-300)}`
  // Workflow commands escape newlines; a long message (a provisioning failure) keeps its first
  // line and its end, where Redis's log and journal are, so a report says why.
  const text = line.replace(/%0D/g, '').replace(/%0A/g, '\n').replace(/%25/g, '%')
  if (text.length <= 300) return text
  return `${text.split('\n')[0].slice(0, 300)} … ${text.slice(-900)}`
}

/** The action's own phase timings ('provision: 4.2 s' lines), for the report. */
export function phases(run: ActionRun): string {
  return [...run.stdout.matchAll(/^(\w+): ([\d.]+) s$/gm)].map(m => `${m[1]} ${m[2]}`).join(', ')
}

export interface StackOptions {
  /** Second octet of the file's VPC, 10.<octet>.0.0/16; unique per test file. */
  octet: number
  /** Host name prefix, unique per test file (a few letters). */
  prefix: string
  /** The redis-password input of every run. */
  password: string
  /** Also start a host outside the client group. */
  outsider?: boolean
  /** Seed of the proxy's throttling. */
  seed?: number
}

export interface RunOptions extends RunActionOptions {
  /** Straight to moto, not through the fault proxy. */
  direct?: boolean
}

export class ReliabilityStack {
  readonly client = generateEd25519KeyPair('reliability-operator')
  readonly secrets: Secret[]
  /** Every secret seen in any run of this stack ('where: which'). */
  readonly secretHits: string[] = []
  runs = 0
  cloud: FakeCloud | undefined
  /** The bundle as it was when the stack started (see snapshotBundle). */
  private readonly bundle = snapshotBundle()
  private clouds = 0

  private constructor(
    readonly options: StackOptions,
    readonly moto: Moto,
    readonly vpc: TestVpc,
    readonly proxy: FaultProxy,
    readonly app: TestHost,
    readonly outsider: TestHost | undefined
  ) {
    this.secrets = [
      { name: 'redis-password', value: options.password },
      { name: 'ssh-private-key', value: this.client.privateKey }
    ]
  }

  static async start(options: StackOptions): Promise<ReliabilityStack> {
    const moto = await startMoto()
    try {
      const vpc = await moto.createTestVpc({ octet: options.octet })
      const proxy = await startFaultProxy({ target: moto.url, seed: options.seed ?? 0x5eed })
      const host = (n: number, role: string) =>
        startTestHost({
          name: `${options.prefix}-${role}`,
          address: `10.${options.octet}.1.${n}`,
          prefix: 24,
          loginUser: 'ubuntu'
        })
      const [app, outsider] = await Promise.all([
        host(200, 'app'),
        options.outsider ? host(201, 'out') : Promise.resolve(undefined)
      ])
      const stack = new ReliabilityStack(options, moto, vpc, proxy, app, outsider)
      await moto.ec2.send(
        new ImportKeyPairCommand({
          KeyName: KEY_NAME,
          PublicKeyMaterial: Buffer.from(stack.client.publicKey)
        })
      )
      return stack
    } catch (error) {
      await moto.stop()
      throw error
    }
  }

  /** The inputs of a deployment of its own: its tag, group name and instance name. */
  inputs(deployment: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      'vpc-id': this.vpc.vpcId,
      'aws-region': this.moto.region,
      'subnet-id': this.vpc.publicSubnetId,
      'ssh-via': 'private',
      'key-name': KEY_NAME,
      'ssh-private-key': this.client.privateKey,
      'redis-password': this.options.password,
      deployment,
      'security-group-name': `redis-${deployment}`,
      'instance-name': `redis-${deployment}`,
      'timeout-seconds': '300',
      ...extra
    }
  }

  /** Environment of a run: moto's, with EC2 and SSM routed through the fault proxy. */
  env(direct = false): Record<string, string> {
    if (direct) return { ...this.moto.env }
    return {
      ...this.moto.env,
      AWS_ENDPOINT_URL_EC2: this.proxy.url,
      AWS_ENDPOINT_URL_SSM: this.proxy.url
    }
  }

  /** Runs the bundle; what a person could read of it is checked for secrets. */
  async run(inputs: Record<string, string>, options: RunOptions = {}): Promise<ActionRun> {
    const { direct, ...rest } = options
    const run = await runAction(inputs, {
      script: this.bundle.script,
      ...rest,
      env: { ...this.env(direct), ...rest.env }
    })
    this.runs++
    const extra: Secret[] = inputs['github-token']
      ? [{ name: 'github-token', value: inputs['github-token'] }]
      : []
    this.secretHits.push(...secretsInRun(run, [...this.secrets, ...extra]))
    return run
  }

  /** The post step of a run, with the state its main step saved. */
  post(inputs: Record<string, string>, main: ActionRun): Promise<ActionRun> {
    return this.run(inputs, { state: { ...main.state, isPost: 'true' } })
  }

  /**
   * Boots a test host for every instance moto runs from now on (one FakeCloud at a time: two
   * would both boot the same instance). Each gets its own host name prefix.
   */
  startCloud(options: FakeCloudOptions = {}): FakeCloud {
    if (this.cloud) throw new Error('a FakeCloud is already running; stop it first')
    const cloud = new FakeCloud(this.moto, {
      keyPairs: { [KEY_NAME]: this.client.publicKey },
      prefix: `${this.options.prefix}${++this.clouds}`,
      ...options
    })
    cloud.addMember(this.vpc.defaultGroupId, this.app.address)
    cloud.start()
    this.cloud = cloud
    return cloud
  }

  async stopCloud(): Promise<string[]> {
    const cloud = this.cloud
    this.cloud = undefined
    if (!cloud) return []
    await cloud.stop()
    return cloud.errors
  }

  leftovers(deployment: string): Promise<string[]> {
    return liveResources(this.moto.ec2, deployment)
  }

  sshRules(): Promise<string[]> {
    return sshRulesOpen(this.moto.ec2)
  }

  locks(): Promise<string[]> {
    return locksHeld(this.moto.ec2)
  }

  /**
   * A converged, locked-down deployment: a session round trip from the application server
   * works, and the runner can open neither port 22 nor 6379 (nftables from moto's rules).
   * Returns what is wrong, empty when healthy.
   */
  async unhealthy(instanceId: string, ip: string): Promise<string[]> {
    const cloud = this.cloud
    if (!cloud) return ['no FakeCloud running: nothing to check against']
    const host = await cloud.waitForHost(instanceId)
    await cloud.synced()
    await forgetNeighbour(ip)
    const [session, ssh, redis] = await Promise.all([
      sessionRoundTrip(this.app, ip, this.options.password),
      runnerReaches(ip, 22),
      runnerReaches(ip, 6379)
    ])
    const wrong: string[] = []
    if (!session) {
      // What the host says about itself, so the report shows why.
      const state = await host.exec(
        "systemctl is-active redis-server; ss -Hltn '( sport = :6379 )'; nft list ruleset | grep -E 'saddr|dport' | head -20"
      )
      wrong.push(
        `no Redis session round trip from ${this.app.address} to ${ip} (host: ${state.stdout.replace(/\s+/g, ' ').trim()})`
      )
    }
    if (ssh) wrong.push(`the runner reaches ${ip}:22`)
    if (redis) wrong.push(`the runner reaches ${ip}:6379`)
    if (!(await neighbourAnswered(ip)))
      wrong.push(`${ip} did not answer ARP from the runner, so its closed ports prove nothing`)
    return wrong
  }

  /** The deployment's live instance in moto, if any. */
  async instanceOf(deployment: string): Promise<{ id: string; ip: string } | undefined> {
    const answer = await this.moto.ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: `tag:${DEPLOYMENT_TAG}`, Values: [deployment] }]
      })
    )
    const live = (answer.Reservations ?? [])
      .flatMap(r => r.Instances ?? [])
      .find(i => i.State?.Name !== 'terminated')
    return live ? { id: live.InstanceId ?? '', ip: live.PrivateIpAddress ?? '' } : undefined
  }

  /** Removes a deployment with the action itself; returns what is left (a leak) or went wrong. */
  async destroy(inputs: Record<string, string>): Promise<string[]> {
    const gone = await this.run({ ...inputs, mode: 'destroy' })
    const left = await this.leftovers(inputs.deployment)
    return gone.code === 0 ? left : [`destroy failed: ${firstError(gone)}`, ...left]
  }

  /** A plain re-run (no faults, working hosts) converges; returns what is wrong. */
  async converges(inputs: Record<string, string>): Promise<string[]> {
    if (!this.cloud) this.startCloud()
    const again = await this.run(inputs)
    if (again.code !== 0) return [`re-run failed: ${firstError(again)}`]
    return this.unhealthy(again.outputs['instance-id'], again.outputs['private-ip'])
  }

  async stop(): Promise<void> {
    await this.stopCloud()
    await Promise.all([this.app.stop(), this.outsider?.stop()])
    await this.proxy.stop()
    await this.moto.stop()
    this.bundle.remove()
  }
}

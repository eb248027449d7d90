// Makes moto's instances real: every running instance that moto reports gets a test host (a
// booted Debian with OpenSSH) at its private IP, set up from its user-data as cloud-init would,
// and the instance's security groups are enforced inside that host with nftables — kept in
// step with moto while the action adds and revokes rules.
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type Instance
} from '@aws-sdk/client-ec2'
import type { Moto } from './moto.js'
import {
  rulesFromSecurityGroups,
  startTestHost,
  type IngressRule,
  type TestHost
} from './test-host.js'

/**
 * An instance's security groups. moto lists none under SecurityGroups for an instance
 * launched with NetworkInterfaces (as the action launches), only under its interfaces.
 */
function groupsOf(instance: Instance): string[] {
  const ids = [
    ...(instance.SecurityGroups ?? []).map(g => g.GroupId),
    ...(instance.NetworkInterfaces ?? []).flatMap(n => (n.Groups ?? []).map(g => g.GroupId))
  ]
  return [...new Set(ids.filter((g): g is string => Boolean(g)))]
}

export interface FakeCloudOptions {
  /** Login user created in each host, like an Ubuntu image's default user. */
  loginUser?: string
  /** Public keys of imported EC2 key pairs, by key name (EC2 installs them at launch). */
  keyPairs?: Record<string, string>
  /** How often moto is read; the action's SSH retries absorb the lag. */
  intervalMs?: number
  /** Short prefix for host names (unique per test file). */
  prefix?: string
}

interface Managed {
  host: TestHost
  groupIds: string[]
  rules: string
}

export class FakeCloud {
  readonly hosts = new Map<string, Managed>()
  /** Addresses that count as members of a group besides moto's instances (client hosts). */
  readonly members = new Map<string, Set<string>>()
  /** Problems met while syncing (a test asserts there are none). */
  readonly errors: string[] = []
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false
  /** Hosts still booting, by instance: stop() waits for them to boot and stop again. */
  private booting = new Map<string, Promise<void>>()
  private counter = 0
  private generation = 0

  constructor(
    private readonly moto: Moto,
    private readonly options: FakeCloudOptions = {}
  ) {}

  start(): void {
    const tick = async () => {
      if (this.stopped) return
      this.running = this.sync().catch(e => {
        this.errors.push(e instanceof Error ? e.message : String(e))
      })
      await this.running
      this.generation++
      if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs ?? 150)
    }
    void tick()
  }

  addMember(groupId: string, address: string): void {
    const set = this.members.get(groupId) ?? new Set()
    set.add(address)
    this.members.set(groupId, set)
  }

  /** The test host standing in for an instance, once it has booted. */
  host(instanceId: string): TestHost | undefined {
    return this.hosts.get(instanceId)?.host
  }

  async waitForHost(instanceId: string, timeoutMs = 120_000): Promise<TestHost> {
    const end = Date.now() + timeoutMs
    while (Date.now() < end) {
      const h = this.host(instanceId)
      if (h) return h
      await new Promise(r => setTimeout(r, 100))
    }
    throw new Error(
      `no test host booted for ${instanceId} within ${timeoutMs} ms: ${this.errors.join('; ')}`
    )
  }

  /** Resolves once a whole sync that began after this call has finished: moto and hosts agree. */
  async synced(): Promise<void> {
    const target = this.generation + 2
    while (this.generation < target && !this.stopped) await new Promise(r => setTimeout(r, 20))
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.running
    // A host still booting would otherwise outlive the cloud and share its address with the
    // next cloud's host for that address.
    await Promise.all(this.booting.values())
    await Promise.all([...this.hosts.values()].map(m => m.host.stop()))
    this.hosts.clear()
  }

  private async instances(): Promise<Instance[]> {
    const answer = await this.moto.ec2.send(new DescribeInstancesCommand({}))
    return (answer.Reservations ?? []).flatMap(r => r.Instances ?? [])
  }

  private async sync(): Promise<void> {
    const instances = await this.instances()
    const running = instances.filter(i => i.State?.Name === 'running' && i.PrivateIpAddress)
    const alive = new Set(running.map(i => i.InstanceId ?? ''))
    // Terminated hosts go first: EC2 hands their addresses to new instances only once free.
    for (const [id, managed] of this.hosts) {
      if (!alive.has(id)) {
        this.hosts.delete(id)
        await managed.host.stop()
      }
    }
    for (const i of running) {
      const id = i.InstanceId ?? ''
      if (this.hosts.has(id) || this.booting.has(id)) continue
      // Boots in the background: syncing the other hosts' firewalls must go on meanwhile.
      const booted = this.boot(i)
        .catch(e => void this.errors.push(`boot ${id}: ${e instanceof Error ? e.message : e}`))
        .finally(() => this.booting.delete(id))
      this.booting.set(id, booted)
    }
    await this.syncFirewalls(instances)
  }

  private async boot(instance: Instance): Promise<void> {
    const id = instance.InstanceId ?? ''
    const attr = await this.moto.ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'userData' })
    )
    const encoded = attr.UserData?.Value
    const userData = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined
    const subnet = await this.moto.ec2.send(
      new DescribeSubnetsCommand({ SubnetIds: [instance.SubnetId ?? ''] })
    )
    const prefix = Number((subnet.Subnets?.[0]?.CidrBlock ?? '/24').split('/')[1])
    const keyPair = instance.KeyName ? this.options.keyPairs?.[instance.KeyName] : undefined
    const host = await startTestHost({
      name: `${this.options.prefix ?? 'fc'}-${++this.counter}-${id.slice(-6)}`,
      address: instance.PrivateIpAddress ?? '',
      prefix,
      loginUser: this.options.loginUser ?? 'ubuntu',
      userData,
      extraAuthorizedKeys: keyPair ? [keyPair] : []
    })
    if (this.stopped) {
      await host.stop()
      return
    }
    this.hosts.set(id, {
      host,
      groupIds: groupsOf(instance),
      rules: ''
    })
    // Enforce the groups at once rather than on the next tick: never a moment wide open.
    await this.syncFirewalls(await this.instances())
  }

  private async syncFirewalls(instances: Instance[]): Promise<void> {
    if (this.hosts.size === 0) return
    const membership: Record<string, string[]> = {}
    for (const [group, addresses] of this.members) membership[group] = [...addresses]
    for (const i of instances) {
      if (i.State?.Name !== 'running' || !i.PrivateIpAddress) continue
      for (const g of groupsOf(i)) (membership[g] ??= []).push(i.PrivateIpAddress)
    }
    const groupIds = [...new Set([...this.hosts.values()].flatMap(m => m.groupIds))]
    const answer = await this.moto.ec2.send(
      new DescribeSecurityGroupsCommand({ GroupIds: groupIds })
    )
    const groups = answer.SecurityGroups ?? []
    // A group referenced by a rule but with no member resolves to nobody.
    for (const g of groups)
      for (const p of g.IpPermissions ?? [])
        for (const pair of p.UserIdGroupPairs ?? []) membership[pair.GroupId ?? ''] ??= []
    for (const managed of this.hosts.values()) {
      const mine = groups.filter(g => managed.groupIds.includes(g.GroupId ?? ''))
      const rules: IngressRule[] = rulesFromSecurityGroups(mine, membership)
      const text = JSON.stringify(rules)
      if (text !== managed.rules) {
        await managed.host.applySecurityGroup(rules)
        managed.rules = text
      }
    }
  }
}

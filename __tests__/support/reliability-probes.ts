// What the reliability suite knocks on after each run: which resources of a deployment still
// exist in moto, which security group rules still reach port 22, whether Redis answers from a
// given test host, and whether the runner can open a port. Every probe asks moto or the network
// itself, never the action's own account of what it did.
import {
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  type EC2Client,
  type IpPermission
} from '@aws-sdk/client-ec2'
import { execFile } from 'node:child_process'
import { Socket } from 'node:net'
import { promisify } from 'node:util'
import { isLockRule } from '../../src/aws/lock-rule.js'
import { DEPLOYMENT_TAG } from '../../src/aws/tags.js'
import type { TestHost } from './test-host.js'

/**
 * Every resource carrying `openemr-redis:deployment=<deployment>` that still exists, as
 * 'kind id' (a terminated instance no longer counts; moto keeps listing it). DescribeTags finds
 * the candidates whatever their type, so a kind the action never meant to create shows up too.
 */
export async function liveResources(ec2: EC2Client, deployment: string): Promise<string[]> {
  const tagged = await ec2.send(
    new DescribeTagsCommand({
      Filters: [
        { Name: 'key', Values: [DEPLOYMENT_TAG] },
        { Name: 'value', Values: [deployment] }
      ],
      MaxResults: 1000
    })
  )
  const byType = new Map<string, string[]>()
  for (const t of tagged.Tags ?? []) {
    const list = byType.get(t.ResourceType ?? '?') ?? []
    list.push(t.ResourceId ?? '')
    byType.set(t.ResourceType ?? '?', list)
  }
  const live: string[] = []
  for (const [type, ids] of byType) {
    for (const id of await stillThere(ec2, type, ids)) live.push(`${type} ${id}`)
  }
  // Addresses are not always listed by DescribeTags in moto; ask for them by tag as well.
  const addresses = await ec2.send(
    new DescribeAddressesCommand({
      Filters: [{ Name: `tag:${DEPLOYMENT_TAG}`, Values: [deployment] }]
    })
  )
  for (const a of addresses.Addresses ?? []) {
    const entry = `elastic-ip ${a.AllocationId}`
    if (!live.includes(entry)) live.push(entry)
  }
  return live.sort()
}

async function stillThere(ec2: EC2Client, type: string, ids: string[]): Promise<string[]> {
  switch (type) {
    case 'instance': {
      const answer = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))
      return (answer.Reservations ?? [])
        .flatMap(r => r.Instances ?? [])
        .filter(i => i.State?.Name !== 'terminated')
        .map(i => i.InstanceId ?? '')
    }
    case 'security-group':
      return existing(ids, async id => {
        const a = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))
        return (a.SecurityGroups ?? []).length > 0
      })
    case 'volume':
      return existing(ids, async id => {
        const a = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))
        return (a.Volumes ?? []).length > 0
      })
    case 'network-interface':
      return existing(ids, async id => {
        const a = await ec2.send(
          new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] })
        )
        return (a.NetworkInterfaces ?? []).length > 0
      })
    case 'elastic-ip':
    case 'vpc-elastic-ip':
      return existing(ids, async id => {
        const a = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [id] }))
        return (a.Addresses ?? []).length > 0
      })
    default:
      // A kind this probe does not know how to check counts as alive: better a loud leak.
      return ids
  }
}

/** The ids for which `exists` answers true; a *.NotFound answer means gone. */
async function existing(ids: string[], exists: (id: string) => Promise<boolean>) {
  const found: string[] = []
  for (const id of ids) {
    try {
      if (await exists(id)) found.push(id)
    } catch (error) {
      if (!/NotFound/.test((error as Error).name)) throw error
    }
  }
  return found
}

function reachesPort(p: IpPermission, port: number): boolean {
  if (p.IpProtocol === '-1') return true
  if (p.IpProtocol !== 'tcp' && p.IpProtocol !== '6') return false
  return (p.FromPort ?? 0) <= port && port <= (p.ToPort ?? 65535)
}

/** Every ingress rule, in any security group moto holds, that admits TCP port 22. */
export async function sshRulesOpen(ec2: EC2Client): Promise<string[]> {
  const answer = await ec2.send(new DescribeSecurityGroupsCommand({}))
  const open: string[] = []
  for (const g of answer.SecurityGroups ?? []) {
    for (const p of g.IpPermissions ?? []) {
      if (!reachesPort(p, 22)) continue
      const sources = [
        ...(p.IpRanges ?? []).map(r => r.CidrIp),
        ...(p.Ipv6Ranges ?? []).map(r => r.CidrIpv6),
        ...(p.UserIdGroupPairs ?? []).map(r => r.GroupId)
      ]
      open.push(
        `${g.GroupId} (${g.GroupName}): ${p.IpProtocol} ${p.FromPort}-${p.ToPort} from ${sources.join(', ')}`
      )
    }
  }
  return open
}

/**
 * Deployment locks (the claim rule of src/aws/lock-rule.ts) held in any group: one left behind
 * makes the next run of that deployment wait until it lapses.
 */
export async function locksHeld(ec2: EC2Client): Promise<string[]> {
  const answer = await ec2.send(new DescribeSecurityGroupsCommand({}))
  const held: string[] = []
  for (const g of answer.SecurityGroups ?? [])
    for (const p of g.IpPermissions ?? [])
      for (const r of p.IpRanges ?? [])
        if (isLockRule({ ...p, IpRanges: [r] })) held.push(`${g.GroupId}: ${r.Description ?? ''}`)
  return held
}

/** Whether a TCP connection from the runner (the root namespace) opens within `timeoutMs`. */
export function runnerReaches(address: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise(resolve => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(port, address, () => done(true))
  })
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Speaks just enough RESP from inside a test host, with bash's /dev/tcp (no client installed).
 * Resolves to Redis's raw answer, or undefined when no connection opens within `timeoutS`.
 */
export async function redisFrom(
  host: TestHost,
  address: string,
  commands: string[][],
  timeoutS = 3
): Promise<string | undefined> {
  // QUIT makes Redis close the connection, which ends the read.
  const format = [...commands, ['QUIT']]
    .map(c => `*${c.length}\\r\\n` + c.map(a => `$${a.length}\\r\\n${a}\\r\\n`).join(''))
    .join('')
  const script = `exec 3<>/dev/tcp/${address}/6379 || exit 7; printf ${quote(format)} >&3; timeout 5 cat <&3`
  const r = await host.exec(`timeout ${timeoutS} bash -c ${quote(script)}`)
  // 7: refused or unreachable; 124: the connect hung (a dropped SYN) until timeout.
  if (r.code === 7 || (r.code === 124 && r.stdout === '')) return undefined
  return r.stdout
}

/**
 * A session round trip with AUTH, as an OpenEMR application server would do it; like a client,
 * it tries again (five times, a second apart) before calling Redis unreachable.
 */
export async function sessionRoundTrip(
  host: TestHost,
  address: string,
  password: string
): Promise<boolean> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const key = `PHPREDIS_SESSION:reliability-${Date.now()}`
    const answer = await redisFrom(host, address, [
      ['AUTH', password],
      ['SET', key, 'data', 'EX', '60'],
      ['GET', key]
    ])
    if (answer === '+OK\r\n+OK\r\n$4\r\ndata\r\n+OK\r\n') return true
    await new Promise(r => setTimeout(r, 1000))
  }
  return false
}

const run = promisify(execFile)

/**
 * Forgets the runner's neighbour entry for `address` (the root namespace's, on the test
 * subnet's bridge): moto reuses a terminated instance's address, and a stale entry would make
 * every connection fail for the wrong reason.
 */
export async function forgetNeighbour(address: string): Promise<void> {
  await run('ip', ['neigh', 'flush', 'to', address])
}

/**
 * Whether `address` answered ARP from the runner: after a refused or dropped connection, this
 * says the host was there and the firewall decided — not a missing host.
 */
export async function neighbourAnswered(address: string): Promise<boolean> {
  const { stdout } = await run('ip', ['neigh', 'show', 'to', address])
  return /lladdr/.test(stdout) && !/FAILED|INCOMPLETE/.test(stdout)
}

import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
  type EC2Client,
  type IpPermission,
  type SecurityGroup,
  type Tag
} from '@aws-sdk/client-ec2'
import { errorMessage, hasErrorCode } from './errors.js'
import { isLockRule } from './lock-rule.js'
import { Deadline, poll, retryEventualConsistency, TimeoutError } from './poll.js'

// Rule policy. The group belongs to this deployment, so its ingress is exactly what is
// desired: the Redis port from the client security group, plus — only while provisioning —
// SSH from one CIDR. Everything else (stale Redis sources, other ports, world-open rules,
// IPv6 and prefix-list sources) is removed; a rule that is desired but carries another
// description is kept as it is. Egress is left alone: a new group's default allow-all egress
// is what apt-get and the Ubuntu mirrors need, and nothing listens on egress.

export const SSH_PORT = 22
const REDIS_RULE_DESCRIPTION = 'Redis from the OpenEMR application servers'

export interface SecurityGroupInfo {
  id: string
  name: string
  vpcId: string
  description: string
  tags: Tag[]
  ingress: IpPermission[]
  egress: IpPermission[]
}

export interface IngressDiff {
  add: IpPermission[]
  remove: IpPermission[]
}

export interface DesiredIngress {
  port: number
  clientGroupId: string
  /** CIDR allowed on port 22; undefined when SSH must be closed. */
  ssh?: string
  /** Names the run in the SSH rule's description; default GITHUB_RUN_ID. */
  runId?: string
}

export function toSecurityGroupInfo(group: SecurityGroup): SecurityGroupInfo {
  return {
    id: group.GroupId ?? '',
    name: group.GroupName ?? '',
    vpcId: group.VpcId ?? '',
    description: group.Description ?? '',
    tags: group.Tags ?? [],
    ingress: group.IpPermissions ?? [],
    egress: group.IpPermissionsEgress ?? []
  }
}

/** The group called `name` in the VPC (names are unique per VPC), or undefined. */
export async function findSecurityGroup(
  ec2: EC2Client,
  { vpcId, name }: { vpcId: string; name: string }
): Promise<SecurityGroupInfo | undefined> {
  const answer = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: [name] }
      ]
    })
  )
  const group = answer.SecurityGroups?.[0]
  return group ? toSecurityGroupInfo(group) : undefined
}

export async function describeSecurityGroup(
  ec2: EC2Client,
  groupId: string
): Promise<SecurityGroupInfo | undefined> {
  try {
    const answer = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    const group = answer.SecurityGroups?.[0]
    return group ? toSecurityGroupInfo(group) : undefined
  } catch (error) {
    if (hasErrorCode(error, 'InvalidGroup.NotFound')) return undefined
    throw error
  }
}

export interface CreateSecurityGroupOptions {
  vpcId: string
  name: string
  description: string
  /** Applied in the create call (see tags.ts resourceTags). */
  tags: Tag[]
  /** Bounds the search for a group a concurrent run created; default 20 s. */
  deadline?: Deadline
}

/**
 * Creates the group, tagged at creation. CreateSecurityGroup takes no ClientToken, so the
 * caller finds first (it needs the group for the rule diff anyway) and a
 * InvalidGroup.Duplicate answer — a concurrent run, or an SDK retry of a create that did
 * succeed — finds the existing group instead (`created: false`). A new group is returned as
 * AWS makes it — no ingress, allow-all egress — without describing it again.
 */
export async function createSecurityGroup(
  ec2: EC2Client,
  options: CreateSecurityGroupOptions
): Promise<{ group: SecurityGroupInfo; created: boolean }> {
  const { vpcId, name, description, tags } = options
  try {
    const answer = await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: name,
        Description: description,
        TagSpecifications: tags.length ? [{ ResourceType: 'security-group', Tags: tags }] : []
      })
    )
    return {
      created: true,
      group: {
        id: answer.GroupId ?? '',
        name,
        vpcId,
        description,
        tags,
        ingress: [],
        egress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }]
      }
    }
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidGroup.Duplicate')) throw error
  }
  const group = await poll(
    async observe => {
      observe(`Duplicate answered but no group named ${name} visible yet`)
      return findSecurityGroup(ec2, { vpcId, name })
    },
    {
      what: `looking for the security group ${name} that AWS says already exists in ${vpcId}`,
      deadline: options.deadline ?? new Deadline(20)
    }
  )
  return { group, created: false }
}

/** Port 6379 (or redis-port) from the client security group, and nothing else. */
export function desiredRedisRule(port: number, clientGroupId: string): IpPermission {
  return {
    IpProtocol: 'tcp',
    FromPort: port,
    ToPort: port,
    UserIdGroupPairs: [{ GroupId: clientGroupId, Description: REDIS_RULE_DESCRIPTION }]
  }
}

/**
 * The rule's description tells anyone who finds it in the console that it is temporary and
 * which workflow run opened it (EC2 allows letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*).
 */
export function sshRuleDescription(runId: string | undefined = process.env.GITHUB_RUN_ID): string {
  const run = runId ? `run ${runId.replace(/[^A-Za-z0-9._-]/g, '')}` : 'a local run'
  return `temporary SSH for openemr-redis-action ${run} - revoked at lockdown`
}

export function desiredSshRule(cidr: string, runId?: string): IpPermission {
  return {
    IpProtocol: 'tcp',
    FromPort: SSH_PORT,
    ToPort: SSH_PORT,
    IpRanges: [{ CidrIp: cidr, Description: sshRuleDescription(runId) }]
  }
}

const PROTOCOL_NAMES: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', all: '-1' }

function protocolOf(p: IpPermission): string {
  const raw = (p.IpProtocol ?? '-1').toLowerCase()
  return PROTOCOL_NAMES[raw] ?? raw
}

/**
 * Splits permissions into one permission per source, the unit AWS authorizes and revokes,
 * so a diff can remove one stale source of a permission and keep the others.
 */
export function explodeRules(permissions: IpPermission[]): IpPermission[] {
  const rules: IpPermission[] = []
  for (const p of permissions) {
    const protocol = protocolOf(p)
    const base: IpPermission =
      protocol === '-1'
        ? { IpProtocol: '-1' }
        : { IpProtocol: protocol, FromPort: p.FromPort, ToPort: p.ToPort }
    for (const r of p.IpRanges ?? []) rules.push({ ...base, IpRanges: [r] })
    for (const r of p.Ipv6Ranges ?? []) rules.push({ ...base, Ipv6Ranges: [r] })
    for (const r of p.UserIdGroupPairs ?? []) rules.push({ ...base, UserIdGroupPairs: [r] })
    for (const r of p.PrefixListIds ?? []) rules.push({ ...base, PrefixListIds: [r] })
  }
  return rules
}

function sourceOf(rule: IpPermission): string {
  if (rule.IpRanges?.length) return rule.IpRanges[0].CidrIp ?? ''
  if (rule.Ipv6Ranges?.length) return rule.Ipv6Ranges[0].CidrIpv6 ?? ''
  if (rule.UserIdGroupPairs?.length) return rule.UserIdGroupPairs[0].GroupId ?? ''
  if (rule.PrefixListIds?.length) return rule.PrefixListIds[0].PrefixListId ?? ''
  return ''
}

/** Identity of a single-source rule: protocol, ports and source; descriptions do not count. */
export function ruleKey(rule: IpPermission): string {
  const protocol = protocolOf(rule)
  const ports = protocol === '-1' ? '' : `${rule.FromPort ?? ''}-${rule.ToPort ?? ''}`
  return `${protocol}|${ports}|${sourceOf(rule)}`
}

/** "tcp 22 from 203.0.113.7/32", "all traffic from ::/0" — for plans and summaries. */
export function formatRule(rule: IpPermission): string {
  const protocol = protocolOf(rule)
  const from = rule.FromPort
  const to = rule.ToPort
  const what =
    protocol === '-1'
      ? 'all traffic'
      : from === to || to === undefined
        ? `${protocol} ${from}`
        : `${protocol} ${from}-${to}`
  return `${what} from ${sourceOf(rule)}`
}

export function isWorldOpen(rule: IpPermission): boolean {
  return (
    (rule.IpRanges ?? []).some(r => r.CidrIp === '0.0.0.0/0') ||
    (rule.Ipv6Ranges ?? []).some(r => r.CidrIpv6 === '::/0')
  )
}

/** Whether a rule lets traffic reach `port` over TCP. */
export function coversPort(rule: IpPermission, port: number): boolean {
  const protocol = protocolOf(rule)
  if (protocol === '-1') return true
  if (protocol !== 'tcp') return false
  const from = rule.FromPort ?? -1
  const to = rule.ToPort ?? -1
  return (from === -1 && to === -1) || (from <= port && port <= to)
}

/**
 * What to authorize and revoke so the group's ingress is exactly `desired` (see the rule
 * policy at the top of this file). Pure: plan prints it, apply executes it.
 */
export function diffIngress(
  group: Pick<SecurityGroupInfo, 'ingress'>,
  desired: DesiredIngress
): IngressDiff {
  const want = [desiredRedisRule(desired.port, desired.clientGroupId)]
  if (desired.ssh !== undefined) want.push(desiredSshRule(desired.ssh, desired.runId))
  const existing = explodeRules(group.ingress)
  const wantKeys = new Set(want.map(ruleKey))
  const haveKeys = new Set(existing.map(ruleKey))
  return {
    add: want.filter(r => !haveKeys.has(ruleKey(r))),
    // The deployment's lock rule (lock-rule.ts) belongs to whichever run holds it.
    remove: existing.filter(r => !wantKeys.has(ruleKey(r)) && !isLockRule(r))
  }
}

// Revoking names each source as described, minus what is not part of its identity:
// descriptions, and a pair's name and peering status (a VPC group is named by id).
function forRevoke(rule: IpPermission): IpPermission {
  return {
    IpProtocol: rule.IpProtocol,
    FromPort: rule.FromPort,
    ToPort: rule.ToPort,
    IpRanges: rule.IpRanges?.map(r => ({ CidrIp: r.CidrIp })),
    Ipv6Ranges: rule.Ipv6Ranges?.map(r => ({ CidrIpv6: r.CidrIpv6 })),
    PrefixListIds: rule.PrefixListIds?.map(r => ({ PrefixListId: r.PrefixListId })),
    UserIdGroupPairs: rule.UserIdGroupPairs?.map(r => ({
      GroupId: r.GroupId,
      UserId: r.UserId,
      VpcId: r.VpcId,
      VpcPeeringConnectionId: r.VpcPeeringConnectionId
    }))
  }
}

async function authorize(ec2: EC2Client, groupId: string, rules: IpPermission[]): Promise<number> {
  if (rules.length === 0) return 0
  try {
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: rules })
    )
    return rules.length
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error
    // One duplicate fails the whole batch: add the rest one by one, a duplicate is done.
    if (rules.length === 1) return 0
    let added = 0
    for (const rule of rules) added += await authorize(ec2, groupId, [rule])
    return added
  }
}

async function revoke(ec2: EC2Client, groupId: string, rules: IpPermission[]): Promise<number> {
  if (rules.length === 0) return 0
  try {
    const answer = await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: rules.map(forRevoke)
      })
    )
    // Newer EC2 answers success and lists rules it did not find instead of failing.
    return rules.length - explodeRules(answer.UnknownIpPermissions ?? []).length
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.NotFound')) throw error
    if (rules.length === 1) return 0
    let removed = 0
    for (const rule of rules) removed += await revoke(ec2, groupId, [rule])
    return removed
  }
}

/**
 * Executes a diff: authorizes first, then revokes, so changing the client group never leaves
 * a moment in which the application servers cannot reach Redis. A duplicate rule counts as
 * added and a missing one as revoked. With a deadline, InvalidGroup.NotFound right after the
 * group's creation is retried as eventual consistency.
 */
export async function applyIngressDiff(
  ec2: EC2Client,
  groupId: string,
  diff: IngressDiff,
  deadline?: Deadline
): Promise<{ added: number; removed: number }> {
  const consistent = <T>(fn: () => Promise<T>) =>
    deadline
      ? retryEventualConsistency(fn, deadline, { what: `waiting for AWS to see ${groupId}` })
      : fn()
  const added = await consistent(() => authorize(ec2, groupId, diff.add))
  const removed = await consistent(() => revoke(ec2, groupId, diff.remove))
  return { added, removed }
}

export interface TemporarySshOptions {
  runId?: string
  deadline?: Deadline
}

/** Opens port 22 from `cidr` with a description marking it temporary; a duplicate is done. */
export async function openTemporarySsh(
  ec2: EC2Client,
  groupId: string,
  cidr: string,
  options: TemporarySshOptions = {}
): Promise<{ opened: boolean; rule: IpPermission }> {
  const rule = desiredSshRule(cidr, options.runId)
  const send = () => authorize(ec2, groupId, [rule])
  const added = options.deadline
    ? await retryEventualConsistency(send, options.deadline, {
        what: `waiting for AWS to see ${groupId}`
      })
    : await send()
  return { opened: added > 0, rule }
}

/**
 * Lockdown's and the post step's guarantee: describes the group afresh and revokes every
 * ingress rule that reaches port 22 (whoever added it, whatever its source, including
 * all-traffic rules). Returns how many single-source rules were revoked; a group that no
 * longer exists has none.
 */
export async function revokeAllSsh(ec2: EC2Client, groupId: string): Promise<number> {
  const group = await describeSecurityGroup(ec2, groupId)
  if (!group) return 0
  const ssh = explodeRules(group.ingress).filter(r => coversPort(r, SSH_PORT))
  return revoke(ec2, groupId, ssh)
}

export interface DeleteSecurityGroupOptions {
  intervalMs?: number
  maxIntervalMs?: number
}

/**
 * Deletes the group; false when it was already gone. While a terminated instance's network
 * interface still holds the group, EC2 answers DependencyViolation for up to a few minutes:
 * retried until the deadline, then the error names what still uses the group.
 */
export async function deleteSecurityGroup(
  ec2: EC2Client,
  groupId: string,
  deadline: Deadline,
  options: DeleteSecurityGroupOptions = {}
): Promise<boolean> {
  try {
    return await poll(
      async observe => {
        try {
          await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }))
          return true
        } catch (error) {
          if (hasErrorCode(error, 'InvalidGroup.NotFound')) return false
          if (!hasErrorCode(error, 'DependencyViolation')) throw error
          observe(`DependencyViolation: ${errorMessage(error)}`)
          return undefined
        }
      },
      {
        what: `deleting security group ${groupId}`,
        deadline,
        intervalMs: options.intervalMs ?? 1000,
        maxIntervalMs: options.maxIntervalMs ?? 5000
      }
    )
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    throw new Error(`${error.message} ${await whatHoldsGroup(ec2, groupId)}`, { cause: error })
  }
}

async function whatHoldsGroup(ec2: EC2Client, groupId: string): Promise<string> {
  try {
    const answer = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'group-id', Values: [groupId] }]
      })
    )
    const enis = (answer.NetworkInterfaces ?? []).map(n => {
      const instance = n.Attachment?.InstanceId
      return `${n.NetworkInterfaceId} (${n.Status}${instance ? `, attached to ${instance}` : ''})`
    })
    if (enis.length > 0)
      return `Network interfaces still using it: ${enis.join(', ')}. Delete the group once they are gone.`
    return 'No network interface uses it any more; a rule of another security group probably references it. Remove that rule, then delete the group.'
  } catch {
    return ''
  }
}

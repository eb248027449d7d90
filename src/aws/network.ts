import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  paginateDescribeRouteTables,
  paginateDescribeSubnets,
  type EC2Client,
  type RouteTable,
  type SecurityGroup,
  type Subnet
} from '@aws-sdk/client-ec2'
import type { SshVia } from '../inputs.js'
import { hasErrorCode } from './errors.js'
import { regionOf } from './region.js'
import { findSecurityGroup, toSecurityGroupInfo, type SecurityGroupInfo } from './security-group.js'

export interface SubnetChoice {
  id: string
  az: string
  cidr: string
  /** Its route table (explicit, else the VPC's main one) sends 0.0.0.0/0 to an internet gateway. */
  public: boolean
}

export interface ResolvedNetwork {
  vpcId: string
  /** The VPC's primary IPv4 block. */
  vpcCidr: string
  /** Every associated IPv4 block, primary first. */
  vpcCidrs: string[]
  clientGroupId: string
  /** Eligible subnets, preferred first, in a deterministic order: launch tries them in turn. */
  subnets: SubnetChoice[]
  /** With the groupName option: the Redis group found by name in the VPC, if it exists. */
  group?: SecurityGroupInfo
}

export interface ResolveNetworkOptions {
  vpcId: string
  /** '' chooses among the VPC's subnets. */
  subnetId: string
  sshVia: SshVia
  /** '' means the VPC's default security group. */
  clientSecurityGroupId: string
  /**
   * Also look up the Redis group by this name. With the default client group this rides on
   * the same DescribeSecurityGroups call, one call fewer per run.
   */
  groupName?: string
}

/** A user-facing problem with the network inputs; nothing has been changed when it is thrown. */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'NetworkError'
  }
}

/**
 * Checks the VPC, chooses the subnets and the client security group. The four reads are
 * independent and run in parallel; the answer lists the eligible subnets so launching can
 * fall back to another availability zone when one has no capacity.
 */
export async function resolveNetwork(
  ec2: EC2Client,
  options: ResolveNetworkOptions
): Promise<ResolvedNetwork> {
  const { vpcId } = options
  if (options.groupName === 'default')
    throw new NetworkError(
      "security-group-name is 'default', the name of the VPC's own default group, which the action would then strip of every rule but Redis. Choose another name, like redis."
    )
  const [vpc, subnets, routeTables, groups] = await Promise.allSettled([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })),
    collectSubnets(ec2, vpcId),
    collectRouteTables(ec2, vpcId),
    describeGroups(ec2, options)
  ])
  if (vpc.status === 'rejected') {
    if (hasErrorCode(vpc.reason, 'InvalidVpcID.NotFound'))
      throw new NetworkError(
        `${vpcId} does not exist in ${await regionOf(ec2)} or the credentials cannot see it. Check vpc-id and aws-region (the VPC OpenEMR runs in, the guide's openemr-vpc).`
      )
    throw vpc.reason
  }
  for (const r of [subnets, routeTables, groups]) if (r.status === 'rejected') throw r.reason
  const found = vpc.value.Vpcs?.[0]
  if (!found)
    throw new NetworkError(
      `${vpcId} does not exist in ${await regionOf(ec2)} or the credentials cannot see it.`
    )
  const vpcCidrs = [
    found.CidrBlock ?? '',
    ...(found.CidrBlockAssociationSet ?? [])
      .filter(a => a.CidrBlockState?.State === 'associated' && a.CidrBlock !== found.CidrBlock)
      .map(a => a.CidrBlock ?? '')
  ].filter(c => c !== '')

  const all = (subnets as PromiseFulfilledResult<Subnet[]>).value.map(s =>
    toChoice(s, (routeTables as PromiseFulfilledResult<RouteTable[]>).value)
  )
  const chosen = await chooseSubnets(ec2, all, options)
  const { clientGroupId, group } = await pickGroups(
    ec2,
    (groups as PromiseFulfilledResult<SecurityGroup[]>).value,
    options
  )
  return {
    vpcId,
    vpcCidr: vpcCidrs[0] ?? '',
    vpcCidrs,
    clientGroupId,
    subnets: chosen,
    ...(options.groupName === undefined ? {} : { group })
  }
}

async function collectSubnets(ec2: EC2Client, vpcId: string): Promise<Subnet[]> {
  const subnets: Subnet[] = []
  const pages = paginateDescribeSubnets(
    { client: ec2 },
    { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }
  )
  for await (const page of pages) subnets.push(...(page.Subnets ?? []))
  return subnets
}

async function collectRouteTables(ec2: EC2Client, vpcId: string): Promise<RouteTable[]> {
  const tables: RouteTable[] = []
  const pages = paginateDescribeRouteTables(
    { client: ec2 },
    { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }
  )
  for await (const page of pages) tables.push(...(page.RouteTables ?? []))
  return tables
}

async function describeGroups(
  ec2: EC2Client,
  { vpcId, clientSecurityGroupId, groupName }: ResolveNetworkOptions
): Promise<SecurityGroup[]> {
  if (clientSecurityGroupId !== '') {
    try {
      const answer = await ec2.send(
        new DescribeSecurityGroupsCommand({ GroupIds: [clientSecurityGroupId] })
      )
      return answer.SecurityGroups ?? []
    } catch (error) {
      if (hasErrorCode(error, 'InvalidGroup.NotFound')) return []
      throw error
    }
  }
  const names =
    groupName === undefined || groupName === 'default' ? ['default'] : ['default', groupName]
  const answer = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: names }
      ]
    })
  )
  return answer.SecurityGroups ?? []
}

async function pickGroups(
  ec2: EC2Client,
  groups: SecurityGroup[],
  options: ResolveNetworkOptions
): Promise<{ clientGroupId: string; group?: SecurityGroupInfo }> {
  const { vpcId, clientSecurityGroupId, groupName } = options
  let clientGroupId: string
  if (clientSecurityGroupId !== '') {
    const client = groups.find(g => g.GroupId === clientSecurityGroupId)
    if (!client)
      throw new NetworkError(
        `client-security-group-id ${clientSecurityGroupId} does not exist in ${await regionOf(ec2)} or the credentials cannot see it. Give the security group of the OpenEMR application servers, or leave it empty for the VPC's default group.`
      )
    if (client.VpcId !== vpcId)
      throw new NetworkError(
        `client-security-group-id ${clientSecurityGroupId} belongs to ${client.VpcId}, not ${vpcId}. A Redis rule can only name a group of the same VPC: give the application servers' group in ${vpcId}.`
      )
    clientGroupId = clientSecurityGroupId
  } else {
    const fallback = groups.find(g => g.GroupName === 'default' && g.VpcId === vpcId)
    if (!fallback?.GroupId)
      throw new NetworkError(
        `${vpcId} has no default security group visible to the credentials. Set client-security-group-id to the OpenEMR application servers' group.`
      )
    clientGroupId = fallback.GroupId
  }
  if (groupName === undefined) return { clientGroupId }
  if (clientSecurityGroupId === '') {
    const own = groups.find(g => g.GroupName === groupName && g.VpcId === vpcId)
    return { clientGroupId, group: own ? toSecurityGroupInfo(own) : undefined }
  }
  return { clientGroupId, group: await findSecurityGroup(ec2, { vpcId, name: groupName }) }
}

function toChoice(subnet: Subnet, tables: RouteTable[]): SubnetChoice & { available: boolean } {
  const id = subnet.SubnetId ?? ''
  const explicit = tables.find(t => t.Associations?.some(a => a.SubnetId === id))
  const main = tables.find(t => t.Associations?.some(a => a.Main))
  const table = explicit ?? main
  return {
    id,
    az: subnet.AvailabilityZone ?? '',
    cidr: subnet.CidrBlock ?? '',
    public: table !== undefined && routesToInternetGateway(table),
    available:
      (subnet.State === undefined || subnet.State === 'available') &&
      (subnet.AvailableIpAddressCount === undefined || subnet.AvailableIpAddressCount > 0)
  }
}

function routesToInternetGateway(table: RouteTable): boolean {
  return (table.Routes ?? []).some(
    r =>
      r.DestinationCidrBlock === '0.0.0.0/0' &&
      (r.GatewayId ?? '').startsWith('igw-') &&
      r.State !== 'blackhole'
  )
}

const byAzThenId = (a: SubnetChoice, b: SubnetChoice) =>
  a.az.localeCompare(b.az) || a.id.localeCompare(b.id)

const strip = ({ id, az, cidr, public: isPublic }: SubnetChoice): SubnetChoice => ({
  id,
  az,
  cidr,
  public: isPublic
})

async function chooseSubnets(
  ec2: EC2Client,
  all: (SubnetChoice & { available: boolean })[],
  { vpcId, subnetId, sshVia }: ResolveNetworkOptions
): Promise<SubnetChoice[]> {
  if (subnetId !== '') {
    const given = all.find(s => s.id === subnetId)
    if (!given) throw new NetworkError(await misplacedSubnet(ec2, subnetId, vpcId))
    if (sshVia === 'public' && !given.public)
      throw new NetworkError(
        `subnet-id ${subnetId} has no route 0.0.0.0/0 to an internet gateway, so a GitHub-hosted runner cannot reach an instance in it (ssh-via: public). Choose a public subnet of ${vpcId}, leave subnet-id empty to pick one, or run on a self-hosted runner inside the VPC with ssh-via: private.`
      )
    return [strip(given)]
  }
  const usable = all.filter(s => s.available).sort(byAzThenId)
  if (sshVia === 'public') {
    const open = usable.filter(s => s.public)
    if (open.length === 0)
      throw new NetworkError(
        `${vpcId} has no subnet whose route table sends 0.0.0.0/0 to an internet gateway, which ssh-via: public needs (the runner connects over the internet). Add such a route to a subnet's route table, set subnet-id to a public subnet, or run on a self-hosted runner inside the VPC with ssh-via: private.`
      )
    return open.map(strip)
  }
  // ssh-via private: a subnet without internet ingress is the better home for Redis.
  const ordered = [...usable.filter(s => !s.public), ...usable.filter(s => s.public)]
  if (ordered.length === 0)
    throw new NetworkError(
      `${vpcId} has no available subnet with free addresses. Create a subnet in it or set subnet-id.`
    )
  return ordered.map(strip)
}

async function misplacedSubnet(ec2: EC2Client, subnetId: string, vpcId: string): Promise<string> {
  try {
    const answer = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))
    const other = answer.Subnets?.[0]?.VpcId
    if (other)
      return `subnet-id ${subnetId} belongs to ${other}, not to vpc-id ${vpcId}. Give a subnet of ${vpcId}, or leave subnet-id empty to pick one.`
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidSubnetID.NotFound')) throw error
  }
  return `subnet-id ${subnetId} does not exist in ${await regionOf(ec2)} or the credentials cannot see it. Give a subnet of ${vpcId}, or leave subnet-id empty to pick one.`
}

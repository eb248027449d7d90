import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type RouteTable,
  type Subnet
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { NetworkError, resolveNetwork, type ResolveNetworkOptions } from '../../src/aws/network.js'
import { awsError } from './aws-errors.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'eu-west-2' })
const VPC = 'vpc-0a1b2c3d4e5f67890'
const DEFAULT_GROUP = 'sg-0defa017defa017de'

const subnet = (id: string, az: string, extra: Partial<Subnet> = {}): Subnet => ({
  SubnetId: id,
  AvailabilityZone: az,
  CidrBlock: `10.0.${id.length}.0/24`,
  State: 'available',
  AvailableIpAddressCount: 250,
  VpcId: VPC,
  ...extra
})
const igw = { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' as const }
const local = { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' as const }
const table = (routes: RouteTable['Routes'], ...subnets: string[]): RouteTable => ({
  RouteTableId: `rtb-${subnets.join('') || 'main'}`,
  Routes: routes,
  Associations: subnets.map(SubnetId => ({ SubnetId, Main: false }))
})
const mainTable = (routes: RouteTable['Routes']): RouteTable => ({
  RouteTableId: 'rtb-main',
  Routes: routes,
  Associations: [{ Main: true }]
})

function network({
  subnets = [] as Subnet[],
  tables = [] as RouteTable[],
  groups = [{ GroupId: DEFAULT_GROUP, GroupName: 'default', VpcId: VPC }] as object[],
  cidrs = ['10.0.0.0/16']
} = {}) {
  ec2Mock.on(DescribeVpcsCommand).resolves({
    Vpcs: [
      {
        VpcId: VPC,
        CidrBlock: cidrs[0],
        CidrBlockAssociationSet: cidrs.map(CidrBlock => ({
          CidrBlock,
          CidrBlockState: { State: 'associated' }
        }))
      }
    ]
  })
  ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: subnets })
  ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables })
  ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: groups })
}

const options = (o: Partial<ResolveNetworkOptions> = {}): ResolveNetworkOptions => ({
  vpcId: VPC,
  subnetId: '',
  sshVia: 'public',
  clientSecurityGroupId: '',
  ...o
})

beforeEach(() => {
  ec2Mock.reset()
})

describe('resolveNetwork: the VPC', () => {
  it('says clearly that a missing VPC does not exist in the region', async () => {
    ec2Mock.on(DescribeVpcsCommand).rejects(awsError('InvalidVpcID.NotFound'))
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [] })
    ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] })
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] })
    const error = await resolveNetwork(ec2, options()).catch(e => e)
    expect(error).toBeInstanceOf(NetworkError)
    expect(error.message).toMatch(
      `${VPC} does not exist in eu-west-2 or the credentials cannot see it`
    )
  })

  it('passes other errors through', async () => {
    network()
    ec2Mock.on(DescribeVpcsCommand).rejects(awsError('UnauthorizedOperation'))
    await expect(resolveNetwork(ec2, options())).rejects.toThrow('UnauthorizedOperation')
  })

  it('reports every associated IPv4 block, primary first', async () => {
    network({
      subnets: [subnet('subnet-a', 'eu-west-2a')],
      tables: [mainTable([local, igw])],
      cidrs: ['10.0.0.0/16', '100.64.0.0/16']
    })
    const resolved = await resolveNetwork(ec2, options())
    expect(resolved.vpcCidr).toBe('10.0.0.0/16')
    expect(resolved.vpcCidrs).toEqual(['10.0.0.0/16', '100.64.0.0/16'])
  })

  it('makes its four reads in parallel, filtered by the VPC', async () => {
    network({ subnets: [subnet('subnet-a', 'eu-west-2a')], tables: [mainTable([igw])] })
    await resolveNetwork(ec2, options())
    expect(ec2Mock.calls()).toHaveLength(4)
    expect(ec2Mock.commandCalls(DescribeSubnetsCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'vpc-id', Values: [VPC] }
    ])
    expect(ec2Mock.commandCalls(DescribeRouteTablesCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'vpc-id', Values: [VPC] }
    ])
  })
})

describe('resolveNetwork: subnets', () => {
  const subnets = [
    subnet('subnet-pub-b', 'eu-west-2b'),
    subnet('subnet-priv-a', 'eu-west-2a'),
    subnet('subnet-pub-a2', 'eu-west-2a'),
    subnet('subnet-pub-a1', 'eu-west-2a'),
    subnet('subnet-nat-c', 'eu-west-2c')
  ]
  const tables = [
    mainTable([local]),
    table([local, igw], 'subnet-pub-b', 'subnet-pub-a2', 'subnet-pub-a1'),
    table(
      [local, { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' }],
      'subnet-nat-c'
    )
  ]

  it('ssh-via public: only subnets routed to an internet gateway, by AZ then id', async () => {
    network({ subnets, tables })
    const { subnets: chosen } = await resolveNetwork(ec2, options())
    expect(chosen.map(s => s.id)).toEqual(['subnet-pub-a1', 'subnet-pub-a2', 'subnet-pub-b'])
    expect(chosen.every(s => s.public)).toBe(true)
    expect(chosen[0]).toEqual({
      id: 'subnet-pub-a1',
      az: 'eu-west-2a',
      cidr: '10.0.13.0/24',
      public: true
    })
  })

  it('ssh-via private: subnets without internet ingress first, then the public ones', async () => {
    network({ subnets, tables })
    const { subnets: chosen } = await resolveNetwork(ec2, options({ sshVia: 'private' }))
    expect(chosen.map(s => [s.id, s.public])).toEqual([
      ['subnet-priv-a', false],
      ['subnet-nat-c', false],
      ['subnet-pub-a1', true],
      ['subnet-pub-a2', true],
      ['subnet-pub-b', true]
    ])
  })

  it("uses the VPC's main route table for a subnet without its own", async () => {
    network({ subnets: [subnet('subnet-a', 'eu-west-2a')], tables: [mainTable([local, igw])] })
    const { subnets: chosen } = await resolveNetwork(ec2, options())
    expect(chosen.map(s => s.id)).toEqual(['subnet-a'])
  })

  it('ignores a blackhole route and subnets that are full or not available', async () => {
    network({
      subnets: [
        subnet('subnet-dead', 'eu-west-2a'),
        subnet('subnet-full', 'eu-west-2a', { AvailableIpAddressCount: 0 }),
        subnet('subnet-pending', 'eu-west-2a', { State: 'pending' }),
        subnet('subnet-ok', 'eu-west-2b')
      ],
      tables: [
        table([{ ...igw, State: 'blackhole' }], 'subnet-dead'),
        table([igw], 'subnet-full', 'subnet-pending', 'subnet-ok')
      ]
    })
    const { subnets: chosen } = await resolveNetwork(ec2, options())
    expect(chosen.map(s => s.id)).toEqual(['subnet-ok'])
  })

  it('ssh-via public without any internet-routed subnet: an error with the fixes', async () => {
    network({ subnets: [subnet('subnet-a', 'eu-west-2a')], tables: [mainTable([local])] })
    const error = await resolveNetwork(ec2, options()).catch(e => e)
    expect(error).toBeInstanceOf(NetworkError)
    expect(error.message).toMatch(
      /no subnet whose route table sends 0.0.0.0\/0 to an internet gateway/
    )
    expect(error.message).toMatch(/ssh-via: private/)
  })

  it('ssh-via private without any subnet: an error', async () => {
    network({ subnets: [], tables: [mainTable([local])] })
    await expect(resolveNetwork(ec2, options({ sshVia: 'private' }))).rejects.toThrow(
      /has no available subnet/
    )
  })

  it('takes subnet-id when it belongs to the VPC', async () => {
    network({ subnets, tables })
    const { subnets: chosen } = await resolveNetwork(ec2, options({ subnetId: 'subnet-pub-b' }))
    expect(chosen.map(s => s.id)).toEqual(['subnet-pub-b'])
  })

  it('rejects a subnet-id without an internet route for ssh-via public', async () => {
    network({ subnets, tables })
    await expect(resolveNetwork(ec2, options({ subnetId: 'subnet-priv-a' }))).rejects.toThrow(
      /subnet-id subnet-priv-a has no route 0.0.0.0\/0 to an internet gateway/
    )
    const { subnets: chosen } = await resolveNetwork(
      ec2,
      options({ subnetId: 'subnet-priv-a', sshVia: 'private' })
    )
    expect(chosen.map(s => s.id)).toEqual(['subnet-priv-a'])
  })

  it('names the VPC a foreign subnet-id belongs to', async () => {
    network({ subnets, tables })
    ec2Mock
      .on(DescribeSubnetsCommand, { SubnetIds: ['subnet-elsewhere'] })
      .resolves({ Subnets: [{ SubnetId: 'subnet-elsewhere', VpcId: 'vpc-other' }] })
    await expect(resolveNetwork(ec2, options({ subnetId: 'subnet-elsewhere' }))).rejects.toThrow(
      `subnet-id subnet-elsewhere belongs to vpc-other, not to vpc-id ${VPC}`
    )
  })

  it('says when subnet-id does not exist at all', async () => {
    network({ subnets, tables })
    ec2Mock
      .on(DescribeSubnetsCommand, { SubnetIds: ['subnet-nowhere'] })
      .rejects(awsError('InvalidSubnetID.NotFound'))
    await expect(resolveNetwork(ec2, options({ subnetId: 'subnet-nowhere' }))).rejects.toThrow(
      'subnet-id subnet-nowhere does not exist in eu-west-2'
    )
  })
})

describe('resolveNetwork: the client security group', () => {
  const basics = { subnets: [subnet('subnet-a', 'eu-west-2a')], tables: [mainTable([igw])] }

  it("defaults to the VPC's default group", async () => {
    network(basics)
    expect((await resolveNetwork(ec2, options())).clientGroupId).toBe(DEFAULT_GROUP)
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'vpc-id', Values: [VPC] },
      { Name: 'group-name', Values: ['default'] }
    ])
  })

  it('takes client-security-group-id when it is in the VPC', async () => {
    network({ ...basics, groups: [{ GroupId: 'sg-0a990a990a990a990', VpcId: VPC }] })
    const resolved = await resolveNetwork(
      ec2,
      options({ clientSecurityGroupId: 'sg-0a990a990a990a990' })
    )
    expect(resolved.clientGroupId).toBe('sg-0a990a990a990a990')
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({
      GroupIds: ['sg-0a990a990a990a990']
    })
  })

  it('rejects a client group of another VPC', async () => {
    network({ ...basics, groups: [{ GroupId: 'sg-0a990a990a990a990', VpcId: 'vpc-other' }] })
    await expect(
      resolveNetwork(ec2, options({ clientSecurityGroupId: 'sg-0a990a990a990a990' }))
    ).rejects.toThrow(/belongs to vpc-other, not vpc-0a1b2c3d4e5f67890/)
  })

  it('rejects a client group that does not exist', async () => {
    network(basics)
    ec2Mock.on(DescribeSecurityGroupsCommand).rejects(awsError('InvalidGroup.NotFound'))
    await expect(
      resolveNetwork(ec2, options({ clientSecurityGroupId: 'sg-0a990a990a990a990' }))
    ).rejects.toThrow(/client-security-group-id sg-0a990a990a990a990 does not exist in eu-west-2/)
  })

  it('finds the Redis group in the same call when asked', async () => {
    network({
      ...basics,
      groups: [
        { GroupId: DEFAULT_GROUP, GroupName: 'default', VpcId: VPC },
        { GroupId: 'sg-0ed15ed15ed15ed15', GroupName: 'redis', VpcId: VPC, IpPermissions: [] }
      ]
    })
    const resolved = await resolveNetwork(ec2, options({ groupName: 'redis' }))
    expect(resolved.clientGroupId).toBe(DEFAULT_GROUP)
    expect(resolved.group?.id).toBe('sg-0ed15ed15ed15ed15')
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(1)
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'vpc-id', Values: [VPC] },
      { Name: 'group-name', Values: ['default', 'redis'] }
    ])
  })

  it("refuses to manage the VPC's default group as the Redis group", async () => {
    network(basics)
    await expect(resolveNetwork(ec2, options({ groupName: 'default' }))).rejects.toThrow(
      /security-group-name is 'default'/
    )
    expect(ec2Mock.calls()).toHaveLength(0)
  })

  it('answers group undefined when the Redis group does not exist yet', async () => {
    network(basics)
    const resolved = await resolveNetwork(ec2, options({ groupName: 'redis' }))
    expect('group' in resolved).toBe(true)
    expect(resolved.group).toBeUndefined()
  })

  it('looks the Redis group up separately when the client group is given by id', async () => {
    network(basics)
    ec2Mock
      .on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-0a990a990a990a990'] })
      .resolves({ SecurityGroups: [{ GroupId: 'sg-0a990a990a990a990', VpcId: VPC }] })
    ec2Mock
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: 'vpc-id', Values: [VPC] },
          { Name: 'group-name', Values: ['redis'] }
        ]
      })
      .resolves({
        SecurityGroups: [{ GroupId: 'sg-0ed15ed15ed15ed15', GroupName: 'redis', VpcId: VPC }]
      })
    const resolved = await resolveNetwork(
      ec2,
      options({ clientSecurityGroupId: 'sg-0a990a990a990a990', groupName: 'redis' })
    )
    expect(resolved.group?.id).toBe('sg-0ed15ed15ed15ed15')
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(2)
  })
})

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type IpPermission
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import { Deadline } from '../../src/aws/poll.js'
import {
  applyIngressDiff,
  coversPort,
  createSecurityGroup,
  deleteSecurityGroup,
  desiredRedisRule,
  diffIngress,
  explodeRules,
  findSecurityGroup,
  formatRule,
  isWorldOpen,
  openTemporarySsh,
  revokeAllSsh,
  sshRuleDescription
} from '../../src/aws/security-group.js'
import { awsError } from './aws-errors.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })
const CLIENT = 'sg-0c11e47c11e47c11e'
const GROUP = 'sg-0ed15ed15ed15ed15'

beforeEach(() => {
  ec2Mock.reset()
})
afterEach(() => {
  delete process.env.GITHUB_RUN_ID
})

const tcp = (port: number, source: Partial<IpPermission>): IpPermission => ({
  IpProtocol: 'tcp',
  FromPort: port,
  ToPort: port,
  ...source
})
const cidr = (c: string, Description?: string) => ({ IpRanges: [{ CidrIp: c, Description }] })
const group = (id: string) => ({ UserIdGroupPairs: [{ GroupId: id, UserId: '123456789012' }] })

describe('findSecurityGroup', () => {
  it('filters by VPC and name and maps the answer', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: GROUP,
          GroupName: 'redis',
          VpcId: 'vpc-1',
          Description: 'd',
          Tags: [{ Key: 'a', Value: 'b' }],
          IpPermissions: [tcp(6379, group(CLIENT))]
        }
      ]
    })
    const found = await findSecurityGroup(ec2, { vpcId: 'vpc-1', name: 'redis' })
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)[0].args[0].input).toEqual({
      Filters: [
        { Name: 'vpc-id', Values: ['vpc-1'] },
        { Name: 'group-name', Values: ['redis'] }
      ]
    })
    expect(found).toMatchObject({ id: GROUP, name: 'redis', vpcId: 'vpc-1', egress: [] })
    expect(found?.ingress).toHaveLength(1)
  })

  it('answers undefined when there is no such group', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] })
    expect(await findSecurityGroup(ec2, { vpcId: 'vpc-1', name: 'redis' })).toBeUndefined()
  })
})

describe('createSecurityGroup', () => {
  const tags = [{ Key: 'openemr-redis:deployment', Value: 'd' }]

  it('creates the group tagged at creation, without describing it again', async () => {
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: GROUP })
    const { group: g, created } = await createSecurityGroup(ec2, {
      vpcId: 'vpc-1',
      name: 'redis',
      description: 'Redis for OpenEMR sessions',
      tags
    })
    expect(created).toBe(true)
    expect(g).toMatchObject({ id: GROUP, name: 'redis', vpcId: 'vpc-1', ingress: [], tags })
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand)[0].args[0].input).toEqual({
      VpcId: 'vpc-1',
      GroupName: 'redis',
      Description: 'Redis for OpenEMR sessions',
      TagSpecifications: [{ ResourceType: 'security-group', Tags: tags }]
    })
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(0)
  })

  it('finds the existing group when AWS answers InvalidGroup.Duplicate', async () => {
    ec2Mock.on(CreateSecurityGroupCommand).rejects(awsError('InvalidGroup.Duplicate'))
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolvesOnce({ SecurityGroups: [] })
      .resolves({ SecurityGroups: [{ GroupId: GROUP, GroupName: 'redis', VpcId: 'vpc-1' }] })
    const { group: g, created } = await createSecurityGroup(ec2, {
      vpcId: 'vpc-1',
      name: 'redis',
      description: 'd',
      tags,
      deadline: new Deadline(5)
    })
    expect(created).toBe(false)
    expect(g.id).toBe(GROUP)
    expect(ec2Mock.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(2)
  })

  it('passes other errors through', async () => {
    ec2Mock.on(CreateSecurityGroupCommand).rejects(awsError('InvalidVpcID.NotFound'))
    await expect(
      createSecurityGroup(ec2, { vpcId: 'vpc-1', name: 'redis', description: 'd', tags })
    ).rejects.toThrow('InvalidVpcID.NotFound')
  })
})

describe('diffIngress', () => {
  it('adds the Redis rule (and SSH when asked) to a new group', () => {
    const diff = diffIngress(
      { ingress: [] },
      { port: 6379, clientGroupId: CLIENT, ssh: '203.0.113.7/32', runId: '42' }
    )
    expect(diff.remove).toEqual([])
    expect(diff.add).toEqual([
      desiredRedisRule(6379, CLIENT),
      tcp(22, cidr('203.0.113.7/32', sshRuleDescription('42')))
    ])
  })

  it('removes stale, world-open and unrelated rules and keeps the desired one', () => {
    const ingress: IpPermission[] = [
      // The desired rule, with someone's own description: kept as it is.
      tcp(6379, {
        UserIdGroupPairs: [
          { GroupId: CLIENT, Description: 'app servers' },
          { GroupId: 'sg-0a1d0a1d0a1d0a1d0' }
        ],
        IpRanges: [{ CidrIp: '0.0.0.0/0' }]
      }),
      tcp(22, cidr('0.0.0.0/0')),
      { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
      tcp(80, cidr('10.0.0.0/16')),
      tcp(6379, { PrefixListIds: [{ PrefixListId: 'pl-1' }] })
    ]
    const diff = diffIngress({ ingress }, { port: 6379, clientGroupId: CLIENT })
    expect(diff.add).toEqual([])
    expect(diff.remove.map(formatRule)).toEqual([
      'tcp 6379 from 0.0.0.0/0',
      'tcp 6379 from sg-0a1d0a1d0a1d0a1d0',
      'tcp 22 from 0.0.0.0/0',
      'all traffic from ::/0',
      'tcp 80 from 10.0.0.0/16',
      'tcp 6379 from pl-1'
    ])
  })

  it('closes SSH when it is not desired, and replaces a wrong SSH source when it is', () => {
    const ingress = [tcp(6379, group(CLIENT)), tcp(22, cidr('198.51.100.1/32'))]
    expect(
      diffIngress({ ingress }, { port: 6379, clientGroupId: CLIENT }).remove.map(formatRule)
    ).toEqual(['tcp 22 from 198.51.100.1/32'])
    const swap = diffIngress(
      { ingress },
      { port: 6379, clientGroupId: CLIENT, ssh: '203.0.113.7/32' }
    )
    expect(swap.add.map(formatRule)).toEqual(['tcp 22 from 203.0.113.7/32'])
    expect(swap.remove.map(formatRule)).toEqual(['tcp 22 from 198.51.100.1/32'])
  })

  it('treats a rule for a wider port range as not the desired one', () => {
    const ingress = [{ IpProtocol: '6', FromPort: 6000, ToPort: 7000, ...group(CLIENT) }]
    const diff = diffIngress({ ingress }, { port: 6379, clientGroupId: CLIENT })
    expect(diff.add).toHaveLength(1)
    expect(diff.remove.map(formatRule)).toEqual([`tcp 6000-7000 from ${CLIENT}`])
  })

  it('follows redis-port and a changed client group', () => {
    const ingress = [tcp(6379, group(CLIENT))]
    const diff = diffIngress({ ingress }, { port: 6380, clientGroupId: 'sg-0be0be0be0be0be0b' })
    expect(diff.add.map(formatRule)).toEqual(['tcp 6380 from sg-0be0be0be0be0be0b'])
    expect(diff.remove.map(formatRule)).toEqual([`tcp 6379 from ${CLIENT}`])
  })

  it('is empty for a converged group', () => {
    const ingress = [tcp(6379, group(CLIENT))]
    expect(diffIngress({ ingress }, { port: 6379, clientGroupId: CLIENT })).toEqual({
      add: [],
      remove: []
    })
  })
})

describe('rule helpers', () => {
  it('explodes a permission into one rule per source', () => {
    const rules = explodeRules([
      tcp(22, { IpRanges: [{ CidrIp: '1.1.1.1/32' }, { CidrIp: '2.2.2.2/32' }], ...group(CLIENT) })
    ])
    expect(rules.map(formatRule)).toEqual([
      'tcp 22 from 1.1.1.1/32',
      'tcp 22 from 2.2.2.2/32',
      `tcp 22 from ${CLIENT}`
    ])
  })

  it('knows world-open sources and which rules reach a port', () => {
    expect(isWorldOpen(tcp(22, cidr('0.0.0.0/0')))).toBe(true)
    expect(isWorldOpen({ IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] })).toBe(true)
    expect(isWorldOpen(tcp(22, cidr('10.0.0.0/8')))).toBe(false)
    expect(coversPort({ IpProtocol: '-1' }, 22)).toBe(true)
    expect(coversPort({ IpProtocol: 'tcp', FromPort: 0, ToPort: 65535 }, 22)).toBe(true)
    expect(coversPort({ IpProtocol: 'tcp', FromPort: 23, ToPort: 80 }, 22)).toBe(false)
    expect(coversPort({ IpProtocol: 'udp', FromPort: 22, ToPort: 22 }, 22)).toBe(false)
  })

  it('describes the SSH rule as temporary and names the run', () => {
    process.env.GITHUB_RUN_ID = '987654'
    expect(sshRuleDescription()).toBe(
      'temporary SSH for openemr-redis-action run 987654 - revoked at lockdown'
    )
    delete process.env.GITHUB_RUN_ID
    expect(sshRuleDescription()).toMatch(/temporary SSH .* a local run/)
    // Only characters EC2 accepts in a rule description.
    expect(sshRuleDescription("1'2?3")).toMatch(/^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/)
  })
})

describe('applyIngressDiff', () => {
  const add = [desiredRedisRule(6379, CLIENT)]
  const remove = [tcp(22, cidr('0.0.0.0/0', 'old')), tcp(6379, cidr('0.0.0.0/0'))]

  it('authorizes first, then revokes, each in one call', async () => {
    const order: string[] = []
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).callsFake(async () => {
      order.push('authorize')
      return {}
    })
    ec2Mock.on(RevokeSecurityGroupIngressCommand).callsFake(async () => {
      order.push('revoke')
      return {}
    })
    expect(await applyIngressDiff(ec2, GROUP, { add, remove })).toEqual({ added: 1, removed: 2 })
    expect(order).toEqual(['authorize', 'revoke'])
    const revoked = ec2Mock.commandCalls(RevokeSecurityGroupIngressCommand)[0].args[0].input
    // Descriptions are not part of a rule's identity.
    expect(revoked.IpPermissions?.[0].IpRanges).toEqual([{ CidrIp: '0.0.0.0/0' }])
  })

  it('makes no call for an empty diff', async () => {
    expect(await applyIngressDiff(ec2, GROUP, { add: [], remove: [] })).toEqual({
      added: 0,
      removed: 0
    })
    expect(ec2Mock.calls()).toHaveLength(0)
  })

  it('counts a duplicate rule as done and adds the rest one by one', async () => {
    const ssh = tcp(22, cidr('203.0.113.7/32'))
    ec2Mock
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejectsOnce(awsError('InvalidPermission.Duplicate'))
      .rejectsOnce(awsError('InvalidPermission.Duplicate'))
      .resolves({})
    expect(await applyIngressDiff(ec2, GROUP, { add: [...add, ssh], remove: [] })).toEqual({
      added: 1,
      removed: 0
    })
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(3)
  })

  it('counts a missing rule as revoked', async () => {
    ec2Mock
      .on(RevokeSecurityGroupIngressCommand)
      .rejectsOnce(awsError('InvalidPermission.NotFound'))
      .rejectsOnce(awsError('InvalidPermission.NotFound'))
      .resolves({})
    expect(await applyIngressDiff(ec2, GROUP, { add: [], remove })).toEqual({
      added: 0,
      removed: 1
    })
  })

  it('does not count rules EC2 reports as unknown', async () => {
    ec2Mock
      .on(RevokeSecurityGroupIngressCommand)
      .resolves({ Return: true, UnknownIpPermissions: [tcp(22, cidr('0.0.0.0/0'))] })
    expect(await applyIngressDiff(ec2, GROUP, { add: [], remove })).toEqual({
      added: 0,
      removed: 1
    })
  })

  it('retries a just-created group that EC2 does not see yet, given a deadline', async () => {
    ec2Mock
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejectsOnce(awsError('InvalidGroup.NotFound'))
      .resolves({})
    expect(await applyIngressDiff(ec2, GROUP, { add, remove: [] }, new Deadline(10))).toEqual({
      added: 1,
      removed: 0
    })
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(2)
  })

  it('passes other errors through', async () => {
    ec2Mock
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejects(awsError('RulesPerSecurityGroupLimitExceeded'))
    await expect(applyIngressDiff(ec2, GROUP, { add, remove: [] })).rejects.toThrow(
      'RulesPerSecurityGroupLimitExceeded'
    )
  })
})

describe('openTemporarySsh', () => {
  it('opens port 22 from the CIDR with the temporary description', async () => {
    process.env.GITHUB_RUN_ID = '77'
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).resolves({})
    const { opened, rule } = await openTemporarySsh(ec2, GROUP, '203.0.113.7/32')
    expect(opened).toBe(true)
    expect(ec2Mock.commandCalls(AuthorizeSecurityGroupIngressCommand)[0].args[0].input).toEqual({
      GroupId: GROUP,
      IpPermissions: [rule]
    })
    expect(rule.IpRanges?.[0].Description).toMatch(/^temporary SSH .* run 77 /)
  })

  it('counts an existing identical rule as open', async () => {
    ec2Mock
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejects(awsError('InvalidPermission.Duplicate'))
    expect((await openTemporarySsh(ec2, GROUP, '203.0.113.7/32')).opened).toBe(false)
  })
})

describe('revokeAllSsh', () => {
  it('describes afresh and revokes every rule reaching port 22, and nothing else', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: GROUP,
          IpPermissions: [
            tcp(22, {
              IpRanges: [
                { CidrIp: '203.0.113.7/32', Description: 'temporary' },
                { CidrIp: '0.0.0.0/0' }
              ]
            }),
            { IpProtocol: 'tcp', FromPort: 0, ToPort: 1024, ...group('sg-0a1d0a1d0a1d0a1d0') },
            { IpProtocol: '-1', IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
            tcp(6379, group(CLIENT))
          ]
        }
      ]
    })
    ec2Mock.on(RevokeSecurityGroupIngressCommand).resolves({})
    expect(await revokeAllSsh(ec2, GROUP)).toBe(4)
    const revoked = ec2Mock.commandCalls(RevokeSecurityGroupIngressCommand)[0].args[0].input
    expect(revoked.IpPermissions?.map(formatRule)).toEqual([
      'tcp 22 from 203.0.113.7/32',
      'tcp 22 from 0.0.0.0/0',
      'tcp 0-1024 from sg-0a1d0a1d0a1d0a1d0',
      'all traffic from 10.0.0.0/8'
    ])
  })

  it('revokes nothing when no rule reaches port 22', async () => {
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolves({ SecurityGroups: [{ GroupId: GROUP, IpPermissions: [tcp(6379, group(CLIENT))] }] })
    expect(await revokeAllSsh(ec2, GROUP)).toBe(0)
    expect(ec2Mock.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0)
  })

  it('answers 0 for a group that no longer exists', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).rejects(awsError('InvalidGroup.NotFound'))
    expect(await revokeAllSsh(ec2, GROUP)).toBe(0)
  })
})

describe('deleteSecurityGroup', () => {
  const fast = { intervalMs: 1, maxIntervalMs: 1 }

  it('deletes the group', async () => {
    ec2Mock.on(DeleteSecurityGroupCommand).resolves({})
    expect(await deleteSecurityGroup(ec2, GROUP, new Deadline(5), fast)).toBe(true)
  })

  it('answers false for a group that is already gone', async () => {
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(awsError('InvalidGroup.NotFound'))
    expect(await deleteSecurityGroup(ec2, GROUP, new Deadline(5), fast)).toBe(false)
  })

  it('retries DependencyViolation until the network interface is gone', async () => {
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejectsOnce(awsError('DependencyViolation', 'resource sg-1 has a dependent object'))
      .rejectsOnce(awsError('DependencyViolation', 'resource sg-1 has a dependent object'))
      .resolves({})
    expect(await deleteSecurityGroup(ec2, GROUP, new Deadline(5), fast)).toBe(true)
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(3)
  })

  it('gives up at the deadline naming the interfaces that still hold the group', async () => {
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejects(awsError('DependencyViolation', 'dependent object'))
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        { NetworkInterfaceId: 'eni-1', Status: 'in-use', Attachment: { InstanceId: 'i-1' } }
      ]
    })
    const error = await deleteSecurityGroup(ec2, GROUP, new Deadline(0.05), fast).catch(e => e)
    expect(error.message).toMatch(
      /Timed out after 0.05 s .* deleting security group sg-0ed15ed15ed15ed15; last seen: DependencyViolation/
    )
    expect(error.message).toMatch(/eni-1 \(in-use, attached to i-1\)/)
    expect(ec2Mock.commandCalls(DescribeNetworkInterfacesCommand)[0].args[0].input).toEqual({
      Filters: [{ Name: 'group-id', Values: [GROUP] }]
    })
  })

  it('points at a referencing rule when no interface is left', async () => {
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(awsError('DependencyViolation'))
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] })
    const error = await deleteSecurityGroup(ec2, GROUP, new Deadline(0.02), fast).catch(e => e)
    expect(error.message).toMatch(/a rule of another security group probably references it/)
  })

  it('passes other errors through at once', async () => {
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(awsError('UnauthorizedOperation'))
    await expect(deleteSecurityGroup(ec2, GROUP, new Deadline(5), fast)).rejects.toThrow(
      'UnauthorizedOperation'
    )
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(1)
  })
})

// The Redis security group against moto: find-or-create, converging a group made by hand with
// stale and world-open rules, the temporary SSH rule and its revocation, deletion.
import { expect, it } from '@jest/globals'
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type IpPermission
} from '@aws-sdk/client-ec2'
import { createAwsClients } from '../../src/aws/client.js'
import { Deadline } from '../../src/aws/poll.js'
import {
  applyIngressDiff,
  createSecurityGroup,
  deleteSecurityGroup,
  diffIngress,
  explodeRules,
  findSecurityGroup,
  formatRule,
  openTemporarySsh,
  revokeAllSsh
} from '../../src/aws/security-group.js'
import { resourceTags } from '../../src/aws/tags.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws security group against moto', suite => {
  const ec2 = () => createAwsClients(suite.moto.region).ec2

  async function ingressOf(groupId: string): Promise<string[]> {
    const answer = await suite.moto.ec2.send(
      new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })
    )
    return explodeRules(answer.SecurityGroups?.[0]?.IpPermissions ?? [])
      .map(formatRule)
      .sort()
  }

  it('creates the group tagged, and a second create finds it instead', async () => {
    const vpc = await suite.moto.createTestVpc()
    const tags = resourceTags({ deployment: 'it-sg', name: 'redis' })
    const options = {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'Redis for OpenEMR sessions',
      tags
    }
    const first = await createSecurityGroup(ec2(), options)
    expect(first.created).toBe(true)
    const again = await createSecurityGroup(ec2(), options)
    expect(again).toMatchObject({ created: false, group: { id: first.group.id, vpcId: vpc.vpcId } })
    const found = await findSecurityGroup(ec2(), { vpcId: vpc.vpcId, name: 'redis' })
    expect(found?.id).toBe(first.group.id)
    expect(found?.tags).toEqual(expect.arrayContaining(tags))
    expect(await findSecurityGroup(ec2(), { vpcId: vpc.vpcId, name: 'other' })).toBeUndefined()
  })

  it('converges a hand-made group with stale and world-open rules to exactly the Redis rule', async () => {
    const vpc = await suite.moto.createTestVpc()
    const made = await suite.moto.ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpc.vpcId, GroupName: 'redis', Description: 'redis' })
    )
    const stale = await suite.moto.ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpc.vpcId, GroupName: 'old-app', Description: 'old' })
    )
    const groupId = made.GroupId ?? ''
    const handMade: IpPermission[] = [
      // The guide's rules as typed in the console: 6379 from the VPC's group, SSH from anywhere.
      {
        IpProtocol: 'tcp',
        FromPort: 6379,
        ToPort: 6379,
        UserIdGroupPairs: [{ GroupId: vpc.defaultGroupId }]
      },
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      // And what accumulates over time.
      {
        IpProtocol: 'tcp',
        FromPort: 6379,
        ToPort: 6379,
        IpRanges: [{ CidrIp: '0.0.0.0/0' }],
        UserIdGroupPairs: [{ GroupId: stale.GroupId }]
      },
      { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.20.0.0/16' }] }
    ]
    await suite.moto.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: handMade })
    )

    const group = await findSecurityGroup(ec2(), { vpcId: vpc.vpcId, name: 'redis' })
    if (!group) throw new Error('the hand-made group was not found')
    const diff = diffIngress(group, { port: 6379, clientGroupId: vpc.defaultGroupId })
    expect(diff.add).toEqual([])
    expect(diff.remove.map(formatRule).sort()).toEqual(
      [
        'tcp 22 from 0.0.0.0/0',
        'tcp 6379 from 0.0.0.0/0',
        `tcp 6379 from ${stale.GroupId}`,
        'all traffic from ::/0',
        'tcp 80 from 10.20.0.0/16'
      ].sort()
    )
    expect(await applyIngressDiff(ec2(), groupId, diff)).toEqual({ added: 0, removed: 5 })
    expect(await ingressOf(groupId)).toEqual([`tcp 6379 from ${vpc.defaultGroupId}`])

    const converged = await findSecurityGroup(ec2(), { vpcId: vpc.vpcId, name: 'redis' })
    expect(diffIngress(converged!, { port: 6379, clientGroupId: vpc.defaultGroupId })).toEqual({
      add: [],
      remove: []
    })
    // Egress is left as AWS made it: allow-all, which apt needs.
    expect(converged?.egress.map(formatRule)).toEqual(['all traffic from 0.0.0.0/0'])
  })

  it('adds the Redis rule to a new group, counting a duplicate as done', async () => {
    const vpc = await suite.moto.createTestVpc()
    const { group } = await createSecurityGroup(ec2(), {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'd',
      tags: resourceTags({ deployment: 'it-sg' })
    })
    const diff = diffIngress(group, {
      port: 6379,
      clientGroupId: vpc.defaultGroupId,
      ssh: '203.0.113.7/32'
    })
    expect(await applyIngressDiff(ec2(), group.id, diff, new Deadline(30))).toEqual({
      added: 2,
      removed: 0
    })
    // Replaying the same diff: both rules exist, both count as done.
    expect(await applyIngressDiff(ec2(), group.id, diff)).toEqual({ added: 0, removed: 0 })
    expect(await ingressOf(group.id)).toEqual(
      ['tcp 22 from 203.0.113.7/32', `tcp 6379 from ${vpc.defaultGroupId}`].sort()
    )
  })

  it('opens a temporary SSH rule naming the run, and revokes every rule reaching port 22', async () => {
    process.env.GITHUB_RUN_ID = '424242'
    try {
      const vpc = await suite.moto.createTestVpc()
      const { group } = await createSecurityGroup(ec2(), {
        vpcId: vpc.vpcId,
        name: 'redis',
        description: 'd',
        tags: resourceTags({ deployment: 'it-sg' })
      })
      await applyIngressDiff(
        ec2(),
        group.id,
        diffIngress(group, { port: 6379, clientGroupId: vpc.defaultGroupId })
      )
      expect((await openTemporarySsh(ec2(), group.id, '203.0.113.7/32')).opened).toBe(true)
      expect((await openTemporarySsh(ec2(), group.id, '203.0.113.7/32')).opened).toBe(false)
      const described = await findSecurityGroup(ec2(), { vpcId: vpc.vpcId, name: 'redis' })
      const ssh = explodeRules(described?.ingress ?? []).find(r => r.FromPort === 22)
      expect(ssh?.IpRanges?.[0].Description).toBe(
        'temporary SSH for openemr-redis-action run 424242 - revoked at lockdown'
      )
      // Someone widened access meanwhile: lockdown removes that too.
      await suite.moto.ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: group.id,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 0, ToPort: 1024, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }
          ]
        })
      )
      expect(await revokeAllSsh(ec2(), group.id)).toBe(2)
      expect(await revokeAllSsh(ec2(), group.id)).toBe(0)
      expect(await ingressOf(group.id)).toEqual([`tcp 6379 from ${vpc.defaultGroupId}`])
    } finally {
      delete process.env.GITHUB_RUN_ID
    }
  })

  it('deletes the group once, and a second delete or lockdown finds nothing to do', async () => {
    const vpc = await suite.moto.createTestVpc()
    const { group } = await createSecurityGroup(ec2(), {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'd',
      tags: resourceTags({ deployment: 'it-sg' })
    })
    expect(await deleteSecurityGroup(ec2(), group.id, new Deadline(30))).toBe(true)
    expect(await deleteSecurityGroup(ec2(), group.id, new Deadline(30))).toBe(false)
    expect(await revokeAllSsh(ec2(), group.id)).toBe(0)
    expect(await findSecurityGroup(ec2(), { vpcId: vpc.vpcId, name: 'redis' })).toBeUndefined()
  })
})

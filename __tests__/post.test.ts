import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import {
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import * as core from '../__fixtures__/core.js'

jest.unstable_mockModule('@actions/core', () => core)
const { runPost } = await import('../src/post.js')

const ec2 = mockClient(EC2Client)
afterAll(() => ec2.restore())
beforeEach(() => {
  core.reset()
  ec2.reset()
})

const group = (ingress: object[]) => ({
  SecurityGroups: [
    { GroupId: 'sg-12345678', GroupName: 'redis', VpcId: 'vpc-12345678', IpPermissions: ingress }
  ]
})
const ssh = {
  IpProtocol: 'tcp',
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: '203.0.113.7/32' }]
}
const lock = (holder: string) => ({
  IpProtocol: 'tcp',
  FromPort: 1,
  ToPort: 1,
  IpRanges: [
    {
      CidrIp: '192.0.2.1/32',
      Description: `openemr-redis-action lock ${holder} until 2999-01-01T00:00:00.000Z`
    }
  ]
})

describe('post step', () => {
  it('does nothing (and calls nothing) when main opened no SSH rule and holds no lock', async () => {
    await runPost()
    expect(ec2.calls()).toHaveLength(0)
    expect(core.logs).toContain('info: No temporary SSH rule is open; nothing to close.')
  })

  it('revokes an SSH rule main left open', async () => {
    core.state.openSshRule = JSON.stringify({
      region: 'us-east-1',
      groupId: 'sg-12345678',
      cidr: '203.0.113.7/32',
      port: 22
    })
    ec2.on(DescribeSecurityGroupsCommand).resolves(group([ssh]))
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true })
    await runPost()
    const revoked = ec2.commandCalls(RevokeSecurityGroupIngressCommand)
    expect(revoked).toHaveLength(1)
    expect(revoked[0].args[0].input.IpPermissions?.[0]).toMatchObject({ FromPort: 22, ToPort: 22 })
    expect(core.setFailed).not.toHaveBeenCalled()
  })

  it('fails loudly, naming the group, when it cannot confirm SSH is closed', async () => {
    core.state.openSshRule = JSON.stringify({
      region: 'us-east-1',
      groupId: 'sg-12345678',
      cidr: '203.0.113.7/32',
      port: 22
    })
    ec2.on(DescribeSecurityGroupsCommand).rejects(new Error('AccessDenied'))
    await runPost()
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(/sg-12345678.*Remove any port 22 rule/)
    )
  })

  it('frees the deployment lock only when this job still holds it', async () => {
    core.state.heldLock = JSON.stringify({
      region: 'us-east-1',
      groupId: 'sg-12345678',
      holder: 'mine'
    })
    ec2.on(DescribeSecurityGroupsCommand).resolves(group([lock('someone-else')]))
    await runPost()
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0)

    ec2.reset()
    ec2.on(DescribeSecurityGroupsCommand).resolves(group([lock('mine')]))
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true })
    await runPost()
    const revoked = ec2.commandCalls(RevokeSecurityGroupIngressCommand)
    expect(revoked).toHaveLength(1)
    expect(revoked[0].args[0].input.IpPermissions?.[0]).toMatchObject({
      FromPort: 1,
      IpRanges: [{ CidrIp: '192.0.2.1/32' }]
    })
  })
})

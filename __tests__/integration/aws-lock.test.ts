import { expect, it } from '@jest/globals'
import { AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2'
import { createAwsClients } from '../../src/aws/client.js'
import { acquireLock } from '../../src/aws/lock.js'
import { LOCK_CIDR, isLockRule } from '../../src/aws/lock-rule.js'
import { Deadline } from '../../src/aws/poll.js'
import {
  createSecurityGroup,
  describeSecurityGroup,
  diffIngress
} from '../../src/aws/security-group.js'
import { resourceTags } from '../../src/aws/tags.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws deployment lock against moto', suite => {
  const ec2 = () => createAwsClients(suite.moto.region).ec2

  async function group(): Promise<string> {
    const vpc = await suite.moto.createTestVpc()
    const made = await createSecurityGroup(ec2(), {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'Redis',
      tags: resourceTags({ deployment: 'it-lock' })
    })
    return made.group.id
  }

  it('lets one run in at a time: the second waits until the first releases', async () => {
    const groupId = await group()
    const first = await acquireLock(ec2(), groupId, { holder: 'run-1', deadline: new Deadline(30) })
    expect(first.waited).toBe(false)
    expect(first.uncontested).toBe(true)
    const waits: string[] = []
    const order: string[] = []
    const second = acquireLock(ec2(), groupId, {
      holder: 'run-2',
      deadline: new Deadline(30),
      onWait: holder => waits.push(holder)
    }).then(lock => {
      order.push('second acquired')
      return lock
    })
    await new Promise(r => setTimeout(r, 1500))
    order.push('first releases')
    await first.release()
    const lock = await second
    expect(order).toEqual(['first releases', 'second acquired'])
    expect(waits).toEqual(['run-1'])
    expect(lock.waited).toBe(true)
    expect(lock.uncontested).toBe(false)
    await lock.release()
    const after = await describeSecurityGroup(ec2(), groupId)
    expect(after?.ingress.filter(isLockRule)).toEqual([])
  })

  it('takes over a stale claim left by a run that died', async () => {
    const groupId = await group()
    await suite.moto.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 1,
            ToPort: 1,
            IpRanges: [
              {
                CidrIp: LOCK_CIDR,
                Description: 'openemr-redis-action lock dead-run until 2020-01-01T00:00:00.000Z'
              }
            ]
          }
        ]
      })
    )
    const lock = await acquireLock(ec2(), groupId, { holder: 'run-3', deadline: new Deadline(20) })
    // Even a dead run's claim means another run was in: what this one found may be stale.
    expect(lock.waited).toBe(false)
    expect(lock.uncontested).toBe(false)
    const held = await describeSecurityGroup(ec2(), groupId)
    const descriptions = held?.ingress
      .filter(isLockRule)
      .flatMap(r => r.IpRanges ?? [])
      .map(r => r.Description)
    expect(descriptions).toEqual([expect.stringMatching(/^openemr-redis-action lock run-3 until /)])
    await lock.release()
  })

  it('is never removed by the rule convergence', async () => {
    const groupId = await group()
    const lock = await acquireLock(ec2(), groupId, { holder: 'run-4', deadline: new Deadline(20) })
    const held = await describeSecurityGroup(ec2(), groupId)
    const diff = diffIngress(held!, { port: 6379, clientGroupId: 'sg-12345678' })
    expect(diff.remove.filter(isLockRule)).toEqual([])
    await lock.release()
  })
})

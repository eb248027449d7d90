// Every AWS action the building blocks actually send, recorded through createAwsClients' onCall
// while they stand up, lock down and remove a Redis host in moto, must be allowed by
// iam-policy.json. (The unit test iam-policy.test.ts checks the same statically, both ways.)
import { expect, it } from '@jest/globals'
import { StopInstancesCommand } from '@aws-sdk/client-ec2'
import {
  allocateAddress,
  associateAddress,
  findAddress,
  releaseAddress
} from '../../src/aws/address.js'
import { createAwsClients } from '../../src/aws/client.js'
import { resolveImage } from '../../src/aws/image.js'
import {
  clientToken,
  findInstance,
  getConsoleOutput,
  launchInstance,
  startInstance,
  tagResource,
  terminateInstance,
  waitForState
} from '../../src/aws/instance.js'
import { resolveNetwork } from '../../src/aws/network.js'
import { Deadline } from '../../src/aws/poll.js'
import {
  applyIngressDiff,
  createSecurityGroup,
  deleteSecurityGroup,
  diffIngress,
  openTemporarySsh,
  revokeAllSsh
} from '../../src/aws/security-group.js'
import { resourceTags } from '../../src/aws/tags.js'
import { AwsRecorder, missingFromPolicy } from '../support/aws-recorder.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('iam-policy.json covers every recorded call', suite => {
  it('allows every action of a full stand-up, lockdown and removal', async () => {
    const vpc = await suite.moto.createTestVpc()
    const recorder = new AwsRecorder()
    const { ec2, ssm } = createAwsClients(suite.moto.region, { onCall: recorder.onCall })
    const deadline = new Deadline(120)
    const deployment = 'it-iam'
    const tags = resourceTags({ deployment, name: 'openemr-redis' })

    const network = await resolveNetwork(ec2, {
      vpcId: vpc.vpcId,
      subnetId: '',
      sshVia: 'public',
      clientSecurityGroupId: '',
      groupName: 'redis'
    })
    const image = await resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })
    const { group } = await createSecurityGroup(ec2, {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'Redis for OpenEMR sessions',
      tags,
      deadline
    })
    await applyIngressDiff(
      ec2,
      group.id,
      diffIngress(group, { port: 6379, clientGroupId: network.clientGroupId }),
      deadline
    )
    await openTemporarySsh(ec2, group.id, '203.0.113.7/32', { deadline })
    const { instance } = await launchInstance(ec2, {
      imageId: image.imageId,
      instanceType: 't3.medium',
      subnets: network.subnets.map(s => s.id),
      groupId: group.id,
      userData: '#cloud-config\n',
      diskSizeGb: 8,
      tags,
      clientToken: clientToken(deployment, '1', 1),
      associatePublicIp: false
      // No rootDeviceName: the launch describes the image itself.
    })
    const address = await allocateAddress(ec2, tags)
    await waitForState(ec2, instance.id, 'running', deadline)
    await associateAddress(ec2, address.allocationId, instance.id, deadline)
    await getConsoleOutput(ec2, instance.id)
    await tagResource(ec2, instance.id, [{ Key: 'Name', Value: 'openemr-redis' }], deadline)
    await revokeAllSsh(ec2, group.id)

    // A re-run against a stopped host, then destroy.
    await suite.moto.ec2.send(new StopInstancesCommand({ InstanceIds: [instance.id] }))
    const found = await findInstance(ec2, deployment)
    if (found?.state === 'stopped') await startInstance(ec2, found.id)
    await waitForState(ec2, instance.id, 'running', deadline)
    const eip = await findAddress(ec2, deployment)
    await terminateInstance(ec2, instance.id)
    await waitForState(ec2, instance.id, 'terminated', deadline)
    if (eip) await releaseAddress(ec2, eip.allocationId, deadline)
    await deleteSecurityGroup(ec2, group.id, deadline)

    // Canonical's parameter missing: the search fallback is one more action.
    await suite.moto.setPublicParameters({})
    await resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })

    console.log(`recorded ${recorder.count()} calls: ${recorder.summary()}`)
    expect(recorder.iamActions().length).toBeGreaterThanOrEqual(20)
    expect(missingFromPolicy(recorder)).toEqual([])
  })
})

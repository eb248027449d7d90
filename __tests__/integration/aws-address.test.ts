// The Elastic IP against moto: allocate tagged, find by tag, associate idempotently, release.
// moto hands out 127.x addresses: they are compared, never connected to.
import { expect, it } from '@jest/globals'
import { DescribeAddressesCommand } from '@aws-sdk/client-ec2'
import {
  ALLOCATION_TAG,
  allocateAddress,
  associateAddress,
  findAddress,
  findAddresses,
  releaseAddress
} from '../../src/aws/address.js'
import { createAwsClients } from '../../src/aws/client.js'
import { clientToken, launchInstance, waitForState } from '../../src/aws/instance.js'
import { Deadline } from '../../src/aws/poll.js'
import { createSecurityGroup } from '../../src/aws/security-group.js'
import { resourceTags, tagRecord } from '../../src/aws/tags.js'
import { IMAGES } from '../support/moto-images.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws address against moto', suite => {
  const ec2 = () => createAwsClients(suite.moto.region).ec2
  const tags = resourceTags({ deployment: 'it-eip', name: 'openemr-redis' })

  async function runningInstance(): Promise<string> {
    const vpc = await suite.moto.createTestVpc()
    const { group } = await createSecurityGroup(ec2(), {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'd',
      tags
    })
    const { instance } = await launchInstance(ec2(), {
      imageId: IMAGES.nobleAmd64.ami_id,
      instanceType: 't3.medium',
      subnets: [vpc.publicSubnetId],
      groupId: group.id,
      userData: '#cloud-config\n',
      diskSizeGb: 8,
      tags,
      clientToken: clientToken('it-eip', '1', 1),
      associatePublicIp: false
    })
    await waitForState(ec2(), instance.id, 'running', new Deadline(30))
    return instance.id
  }

  it('allocates a tagged address that the deployment then finds', async () => {
    expect(await findAddress(ec2(), 'it-eip')).toBeUndefined()
    const allocated = await allocateAddress(ec2(), tags)
    expect(allocated.allocationId).toMatch(/^eipalloc-/)
    const found = await findAddress(ec2(), 'it-eip')
    expect(found).toMatchObject({
      allocationId: allocated.allocationId,
      publicIp: allocated.publicIp,
      associationId: undefined,
      instanceId: undefined
    })
    expect(tagRecord(found?.tags)).toEqual(tagRecord(allocated.tags))
    // The deployment's tags, and the token that marks this one AllocateAddress call.
    expect(tagRecord(found?.tags)).toMatchObject(tagRecord(tags))
    expect(tagRecord(found?.tags)[ALLOCATION_TAG]).toMatch(/^[0-9a-f-]{36}$/)
    expect(await findAddress(ec2(), 'other')).toBeUndefined()
  })

  it('associates with the instance and reports the association on the next find', async () => {
    const instanceId = await runningInstance()
    const { allocationId, publicIp } = await allocateAddress(ec2(), tags)
    const associated = await associateAddress(ec2(), allocationId, instanceId, new Deadline(30))
    expect(associated.changed).toBe(true)
    const found = await findAddress(ec2(), 'it-eip')
    expect(found).toMatchObject({
      allocationId,
      publicIp,
      instanceId,
      associationId: associated.associationId,
      privateIp: '10.20.1.4'
    })
    const running = await waitForState(ec2(), instanceId, 'running', new Deadline(30))
    expect(running.publicIp).toBe(publicIp)
  })

  it('prefers the associated one of several tagged addresses', async () => {
    const instanceId = await runningInstance()
    const spare = await allocateAddress(ec2(), tags)
    const used = await allocateAddress(ec2(), tags)
    await associateAddress(ec2(), used.allocationId, instanceId)
    expect((await findAddresses(ec2(), 'it-eip')).map(a => a.allocationId).sort()).toEqual(
      [spare.allocationId, used.allocationId].sort()
    )
    expect((await findAddress(ec2(), 'it-eip'))?.allocationId).toBe(used.allocationId)
  })

  it('disassociates and releases, and a second release finds nothing', async () => {
    const instanceId = await runningInstance()
    const { allocationId } = await allocateAddress(ec2(), tags)
    await associateAddress(ec2(), allocationId, instanceId)
    expect(await releaseAddress(ec2(), allocationId, new Deadline(30))).toBe(true)
    expect(await findAddress(ec2(), 'it-eip')).toBeUndefined()
    const all = await suite.moto.ec2.send(new DescribeAddressesCommand({}))
    expect(all.Addresses?.some(a => a.AllocationId === allocationId)).toBe(false)
    expect(await releaseAddress(ec2(), allocationId)).toBe(false)
    const running = await waitForState(ec2(), instanceId, 'running', new Deadline(30))
    expect(running.publicIp).toBeUndefined()
  })
})

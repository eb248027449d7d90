import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DisassociateAddressCommand,
  EC2Client,
  ReleaseAddressCommand
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import {
  ALLOCATION_TAG,
  allocateAddress,
  associateAddress,
  findAddress,
  findAddresses,
  releaseAddress
} from '../../src/aws/address.js'
import { Deadline } from '../../src/aws/poll.js'
import { awsError } from './aws-errors.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })
const tags = [{ Key: 'openemr-redis:deployment', Value: 'prod' }]

beforeEach(() => {
  ec2Mock.reset()
})

describe('findAddress', () => {
  it('filters by the deployment tag and maps empty fields to absent ones', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [
        {
          AllocationId: 'eipalloc-2',
          PublicIp: '198.51.100.2',
          InstanceId: '',
          NetworkInterfaceId: '',
          Tags: tags
        }
      ]
    })
    expect(await findAddress(ec2, 'prod')).toEqual({
      allocationId: 'eipalloc-2',
      publicIp: '198.51.100.2',
      associationId: undefined,
      instanceId: undefined,
      networkInterfaceId: undefined,
      privateIp: undefined,
      tags
    })
    expect(ec2Mock.commandCalls(DescribeAddressesCommand)[0].args[0].input).toEqual({
      Filters: [{ Name: 'tag:openemr-redis:deployment', Values: ['prod'] }]
    })
  })

  it('prefers the associated address, and lists all in a stable order', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [
        { AllocationId: 'eipalloc-b', PublicIp: '198.51.100.2' },
        {
          AllocationId: 'eipalloc-c',
          PublicIp: '198.51.100.3',
          AssociationId: 'eipassoc-1',
          InstanceId: 'i-1'
        },
        { AllocationId: 'eipalloc-a', PublicIp: '198.51.100.1' }
      ]
    })
    expect((await findAddress(ec2, 'prod'))?.allocationId).toBe('eipalloc-c')
    expect((await findAddresses(ec2, 'prod')).map(a => a.allocationId)).toEqual([
      'eipalloc-a',
      'eipalloc-b',
      'eipalloc-c'
    ])
  })

  it('answers undefined without an address', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [] })
    expect(await findAddress(ec2, 'prod')).toBeUndefined()
  })
})

describe('allocateAddress', () => {
  const token = () =>
    ec2Mock
      .commandCalls(AllocateAddressCommand)[0]
      .args[0].input.TagSpecifications![0].Tags!.at(-1)!

  it('allocates a VPC address tagged at creation, with a token of its own', async () => {
    ec2Mock
      .on(AllocateAddressCommand)
      .resolves({ AllocationId: 'eipalloc-1', PublicIp: '198.51.100.1' })
    const address = await allocateAddress(ec2, tags)
    expect(token().Key).toBe(ALLOCATION_TAG)
    expect(token().Value).toMatch(/^[0-9a-f-]{36}$/)
    expect(address).toEqual({
      allocationId: 'eipalloc-1',
      publicIp: '198.51.100.1',
      tags: [...tags, token()]
    })
    expect(ec2Mock.commandCalls(AllocateAddressCommand)[0].args[0].input).toEqual({
      Domain: 'vpc',
      TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [...tags, token()] }]
    })
    // One attempt: nothing can have been allocated twice, so no look is spent on it.
    expect(ec2Mock.commandCalls(DescribeAddressesCommand)).toHaveLength(0)
  })

  it('releases the extra address a retried call made when its first answer was lost', async () => {
    ec2Mock.on(AllocateAddressCommand).resolves({
      AllocationId: 'eipalloc-2',
      PublicIp: '198.51.100.2',
      $metadata: { attempts: 2 }
    })
    ec2Mock
      .on(DescribeAddressesCommand)
      .resolves({ Addresses: [{ AllocationId: 'eipalloc-1' }, { AllocationId: 'eipalloc-2' }] })
    ec2Mock.on(ReleaseAddressCommand).resolves({})
    const address = await allocateAddress(ec2, tags)
    expect(address.allocationId).toBe('eipalloc-2')
    expect(ec2Mock.commandCalls(DescribeAddressesCommand)[0].args[0].input.Filters).toEqual([
      { Name: `tag:${ALLOCATION_TAG}`, Values: [token().Value] }
    ])
    expect(ec2Mock.commandCalls(ReleaseAddressCommand).map(c => c.args[0].input)).toEqual([
      { AllocationId: 'eipalloc-1' }
    ])
  })

  it('releases what a failed call allocated before it gave up, and reports the failure', async () => {
    ec2Mock.on(AllocateAddressCommand).rejects(new Error('socket hang up'))
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-1' }] })
    ec2Mock.on(ReleaseAddressCommand).resolves({})
    await expect(allocateAddress(ec2, tags)).rejects.toThrow('socket hang up')
    expect(ec2Mock.commandCalls(ReleaseAddressCommand).map(c => c.args[0].input)).toEqual([
      { AllocationId: 'eipalloc-1' }
    ])
  })
})

describe('associateAddress', () => {
  it('associates without allowing reassociation', async () => {
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-1' })
    expect(await associateAddress(ec2, 'eipalloc-1', 'i-1')).toEqual({
      associationId: 'eipassoc-1',
      changed: true
    })
    expect(ec2Mock.commandCalls(AssociateAddressCommand)[0].args[0].input).toEqual({
      AllocationId: 'eipalloc-1',
      InstanceId: 'i-1',
      AllowReassociation: false
    })
  })

  it('is a no-op when the address is already on this instance', async () => {
    ec2Mock.on(AssociateAddressCommand).rejects(awsError('Resource.AlreadyAssociated'))
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [{ AllocationId: 'eipalloc-1', AssociationId: 'eipassoc-9', InstanceId: 'i-1' }]
    })
    expect(await associateAddress(ec2, 'eipalloc-1', 'i-1')).toEqual({
      associationId: 'eipassoc-9',
      changed: false
    })
  })

  it('never takes an address from another instance', async () => {
    ec2Mock.on(AssociateAddressCommand).rejects(awsError('Resource.AlreadyAssociated'))
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [
        {
          AllocationId: 'eipalloc-1',
          PublicIp: '198.51.100.1',
          AssociationId: 'eipassoc-9',
          InstanceId: 'i-other'
        }
      ]
    })
    await expect(associateAddress(ec2, 'eipalloc-1', 'i-1')).rejects.toThrow(
      /198.51.100.1 \(eipalloc-1\) is associated with i-other, not i-1/
    )
  })

  it('retries a just-launched instance that EC2 does not see yet, given a deadline', async () => {
    ec2Mock
      .on(AssociateAddressCommand)
      .rejectsOnce(awsError('InvalidInstanceID.NotFound'))
      .resolves({ AssociationId: 'eipassoc-1' })
    expect((await associateAddress(ec2, 'eipalloc-1', 'i-1', new Deadline(5))).changed).toBe(true)
    expect(ec2Mock.commandCalls(AssociateAddressCommand)).toHaveLength(2)
  })
})

describe('releaseAddress', () => {
  it('disassociates first, then releases', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [{ AllocationId: 'eipalloc-1', AssociationId: 'eipassoc-1', InstanceId: 'i-1' }]
    })
    const order: string[] = []
    ec2Mock.on(DisassociateAddressCommand).callsFake(async input => {
      order.push(`disassociate ${input.AssociationId}`)
      return {}
    })
    ec2Mock.on(ReleaseAddressCommand).callsFake(async input => {
      order.push(`release ${input.AllocationId}`)
      return {}
    })
    expect(await releaseAddress(ec2, 'eipalloc-1')).toBe(true)
    expect(order).toEqual(['disassociate eipassoc-1', 'release eipalloc-1'])
    // One look at the address serves both steps.
    expect(ec2Mock.commandCalls(DescribeAddressesCommand)).toHaveLength(1)
  })

  it('releases an unassociated address directly', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-1' }] })
    ec2Mock.on(ReleaseAddressCommand).resolves({})
    expect(await releaseAddress(ec2, 'eipalloc-1')).toBe(true)
    expect(ec2Mock.commandCalls(DisassociateAddressCommand)).toHaveLength(0)
  })

  it('answers false for an address that is already gone', async () => {
    ec2Mock.on(DescribeAddressesCommand).rejects(awsError('InvalidAllocationID.NotFound'))
    expect(await releaseAddress(ec2, 'eipalloc-1')).toBe(false)
    expect(ec2Mock.commandCalls(ReleaseAddressCommand)).toHaveLength(0)
  })

  it('retries while EC2 still calls the address in use after the disassociation', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [{ AllocationId: 'eipalloc-1', AssociationId: 'eipassoc-1' }]
    })
    ec2Mock.on(DisassociateAddressCommand).rejects(awsError('InvalidAssociationID.NotFound'))
    ec2Mock.on(ReleaseAddressCommand).rejectsOnce(awsError('InvalidIPAddress.InUse')).resolves({})
    expect(await releaseAddress(ec2, 'eipalloc-1', new Deadline(5))).toBe(true)
    expect(ec2Mock.commandCalls(ReleaseAddressCommand)).toHaveLength(2)
  })

  it('counts a release racing another one as done', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-1' }] })
    ec2Mock.on(ReleaseAddressCommand).rejects(awsError('InvalidAllocationID.NotFound'))
    expect(await releaseAddress(ec2, 'eipalloc-1')).toBe(false)
  })
})

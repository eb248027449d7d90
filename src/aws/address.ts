import { randomUUID } from 'node:crypto'
import {
  AllocateAddressCommand,
  type AllocateAddressCommandOutput,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  type Address,
  type EC2Client,
  type Tag
} from '@aws-sdk/client-ec2'
import { hasErrorCode } from './errors.js'
import { Deadline, poll, retryEventualConsistency } from './poll.js'
import { deploymentFilters } from './tags.js'

export interface AddressInfo {
  allocationId: string
  publicIp: string
  associationId?: string
  instanceId?: string
  networkInterfaceId?: string
  privateIp?: string
  tags: Tag[]
}

export function toAddressInfo(address: Address): AddressInfo {
  // Unassociated addresses may carry empty strings instead of absent fields.
  const empty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v)
  return {
    allocationId: address.AllocationId ?? '',
    publicIp: address.PublicIp ?? '',
    associationId: empty(address.AssociationId),
    instanceId: empty(address.InstanceId),
    networkInterfaceId: empty(address.NetworkInterfaceId),
    privateIp: empty(address.PrivateIpAddress),
    tags: address.Tags ?? []
  }
}

/** Every Elastic IP of the deployment, ordered by allocation id (stable between runs). */
export async function findAddresses(ec2: EC2Client, deployment: string): Promise<AddressInfo[]> {
  const answer = await ec2.send(
    new DescribeAddressesCommand({ Filters: deploymentFilters(deployment) })
  )
  return (answer.Addresses ?? [])
    .map(toAddressInfo)
    .sort((a, b) => a.allocationId.localeCompare(b.allocationId))
}

/**
 * The deployment's Elastic IP, preferring one that is already associated (a re-run keeps the
 * address the application servers know), or undefined.
 */
export async function findAddress(
  ec2: EC2Client,
  deployment: string
): Promise<AddressInfo | undefined> {
  const all = await findAddresses(ec2, deployment)
  return all.find(a => a.associationId !== undefined) ?? all[0]
}

export async function describeAddress(
  ec2: EC2Client,
  allocationId: string
): Promise<AddressInfo | undefined> {
  try {
    const answer = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))
    const address = answer.Addresses?.[0]
    return address ? toAddressInfo(address) : undefined
  } catch (error) {
    if (hasErrorCode(error, 'InvalidAllocationID.NotFound')) return undefined
    throw error
  }
}

/** Marks the addresses of one AllocateAddress call, so a retried call's extra can be found. */
export const ALLOCATION_TAG = 'openemr-redis:allocation'

/**
 * Allocates a VPC Elastic IP, tagged at creation. AllocateAddress has no ClientToken: when
 * EC2 acted but its answer was lost, the SDK's retry allocates a second address that the run
 * would never learn of. Each call therefore carries a token tag of its own; when the SDK needed
 * more than one attempt, or gave up, every address with that token but the one answered is
 * released at once. The caller looks for the deployment's address first (findAddress) and
 * allocates only when there is none.
 */
export async function allocateAddress(ec2: EC2Client, tags: Tag[]): Promise<AddressInfo> {
  const token = randomUUID()
  const tagged = [...tags, { Key: ALLOCATION_TAG, Value: token }]
  let answer: AllocateAddressCommandOutput
  try {
    answer = await ec2.send(
      new AllocateAddressCommand({
        Domain: 'vpc',
        TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: tagged }]
      })
    )
  } catch (error) {
    await releaseOrphans(ec2, token, undefined).catch(() => undefined)
    throw error
  }
  const allocationId = answer.AllocationId ?? ''
  if ((answer.$metadata?.attempts ?? 1) > 1) await releaseOrphans(ec2, token, allocationId)
  return { allocationId, publicIp: answer.PublicIp ?? '', tags: tagged }
}

/** Releases the addresses one allocation call made, but the one it answered with. */
async function releaseOrphans(
  ec2: EC2Client,
  token: string,
  keep: string | undefined
): Promise<void> {
  const answer = await ec2.send(
    new DescribeAddressesCommand({ Filters: [{ Name: `tag:${ALLOCATION_TAG}`, Values: [token] }] })
  )
  for (const orphan of answer.Addresses ?? [])
    if (orphan.AllocationId && orphan.AllocationId !== keep)
      await releaseAddress(ec2, orphan.AllocationId)
}

/**
 * Associates the address with the instance without ever taking it from another instance
 * (AllowReassociation false). Already associated with this instance: nothing to do
 * (`changed: false`). With a deadline, a just-created address or instance that EC2 does not
 * see yet is retried.
 */
export async function associateAddress(
  ec2: EC2Client,
  allocationId: string,
  instanceId: string,
  deadline?: Deadline
): Promise<{ associationId: string; changed: boolean }> {
  const attempt = async (): Promise<{ associationId: string; changed: boolean }> => {
    try {
      const answer = await ec2.send(
        new AssociateAddressCommand({
          AllocationId: allocationId,
          InstanceId: instanceId,
          AllowReassociation: false
        })
      )
      return { associationId: answer.AssociationId ?? '', changed: true }
    } catch (error) {
      if (!hasErrorCode(error, 'Resource.AlreadyAssociated')) throw error
      const current = await describeAddress(ec2, allocationId)
      if (current?.instanceId === instanceId && current.associationId)
        return { associationId: current.associationId, changed: false }
      throw new Error(
        `Elastic IP ${current?.publicIp ?? allocationId} (${allocationId}) is associated with ${current?.instanceId ?? current?.networkInterfaceId ?? 'another resource'}, not ${instanceId}; the action never takes an address away. Disassociate it, or remove its openemr-redis:deployment tag so a new one is allocated.`,
        { cause: error }
      )
    }
  }
  return deadline ? retryEventualConsistency(attempt, deadline) : attempt()
}

/**
 * Takes the address off whatever it is associated with; false when it was not associated.
 * `known` is the address as just described, which saves describing it again.
 */
export async function disassociateAddress(
  ec2: EC2Client,
  allocationId: string,
  known?: AddressInfo
): Promise<boolean> {
  const current = known ?? (await describeAddress(ec2, allocationId))
  if (!current?.associationId) return false
  try {
    await ec2.send(new DisassociateAddressCommand({ AssociationId: current.associationId }))
    return true
  } catch (error) {
    if (hasErrorCode(error, 'InvalidAssociationID.NotFound')) return false
    throw error
  }
}

/**
 * Disassociates (when associated) and releases; false when the address was already gone.
 * Right after a disassociation EC2 may still call the address in use: retried until the
 * deadline (default 30 s).
 */
export async function releaseAddress(
  ec2: EC2Client,
  allocationId: string,
  deadline: Deadline = new Deadline(30)
): Promise<boolean> {
  const current = await describeAddress(ec2, allocationId)
  if (!current) return false
  await disassociateAddress(ec2, allocationId, current)
  return poll(
    async observe => {
      try {
        await ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId }))
        return true
      } catch (error) {
        if (hasErrorCode(error, 'InvalidAllocationID.NotFound')) return false
        if (!hasErrorCode(error, 'InvalidIPAddress.InUse')) throw error
        observe('InvalidIPAddress.InUse')
        return undefined
      }
    },
    { what: `releasing Elastic IP ${current.publicIp} (${allocationId})`, deadline }
  )
}

import { createHash } from 'node:crypto'
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  GetConsoleOutputCommand,
  paginateDescribeInstances,
  RunInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type Tag,
  type _InstanceType
} from '@aws-sdk/client-ec2'
import { errorCode, errorMessage, hasErrorCode, isNotFound } from './errors.js'
import { Deadline, poll, retryEventualConsistency } from './poll.js'
import { deploymentFilters } from './tags.js'

export type InstanceState =
  'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped'

export interface InstanceSummary {
  id: string
  state: InstanceState
  privateIp?: string
  publicIp?: string
  subnetId?: string
  vpcId?: string
  availabilityZone?: string
  imageId?: string
  instanceType?: string
  keyName?: string
  groupIds: string[]
  tags: Tag[]
  launchTime?: Date
  /** Why EC2 stopped or terminated it (StateReason), when it says. */
  stateReason?: string
}

export function toInstanceSummary(instance: Instance): InstanceSummary {
  const empty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v)
  return {
    id: instance.InstanceId ?? '',
    state: (instance.State?.Name ?? 'pending') as InstanceState,
    privateIp: empty(instance.PrivateIpAddress),
    publicIp: empty(instance.PublicIpAddress),
    subnetId: empty(instance.SubnetId),
    vpcId: empty(instance.VpcId),
    availabilityZone: empty(instance.Placement?.AvailabilityZone),
    imageId: empty(instance.ImageId),
    instanceType: empty(instance.InstanceType),
    keyName: empty(instance.KeyName),
    groupIds: (instance.SecurityGroups ?? [])
      .map(g => g.GroupId ?? '')
      .concat(
        (instance.NetworkInterfaces ?? []).flatMap(n => n.Groups?.map(g => g.GroupId ?? '') ?? [])
      )
      .filter((id, i, all) => id !== '' && all.indexOf(id) === i),
    tags: instance.Tags ?? [],
    launchTime: instance.LaunchTime,
    stateReason: empty(instance.StateReason?.Message)
  }
}

// Everything but terminated and shutting-down (on its way to terminated): those are gone.
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped']

/** Every live instance of the deployment, newest first (destroy removes them all). */
export async function findInstances(
  ec2: EC2Client,
  deployment: string
): Promise<InstanceSummary[]> {
  const found: InstanceSummary[] = []
  const pages = paginateDescribeInstances(
    { client: ec2 },
    {
      Filters: [
        ...deploymentFilters(deployment),
        { Name: 'instance-state-name', Values: LIVE_STATES }
      ]
    }
  )
  for await (const page of pages)
    for (const reservation of page.Reservations ?? [])
      for (const instance of reservation.Instances ?? []) found.push(toInstanceSummary(instance))
  return found.sort(
    (a, b) =>
      (b.launchTime?.getTime() ?? 0) - (a.launchTime?.getTime() ?? 0) || a.id.localeCompare(b.id)
  )
}

/** The deployment's newest live instance, or undefined. */
export async function findInstance(
  ec2: EC2Client,
  deployment: string
): Promise<InstanceSummary | undefined> {
  return (await findInstances(ec2, deployment))[0]
}

export async function describeInstance(
  ec2: EC2Client,
  instanceId: string
): Promise<InstanceSummary> {
  const answer = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
  const instance = answer.Reservations?.[0]?.Instances?.[0]
  if (!instance)
    throw Object.assign(new Error(`The instance ID '${instanceId}' does not exist`), {
      name: 'InvalidInstanceID.NotFound'
    })
  return toInstanceSummary(instance)
}

const CLIENT_TOKEN_MAX = 64

/**
 * A RunInstances idempotency token: the same deployment, run and attempt give the same token,
 * so an SDK retry of a launch whose answer was lost returns the instance already launched
 * instead of a second one. `runId` must differ between runs (GITHUB_RUN_ID plus
 * GITHUB_RUN_ATTEMPT do): EC2 keeps answering a used token with its instance, even a
 * terminated one.
 */
export function clientToken(deployment: string, runId: string, attempt: string | number): string {
  const plain = `openemr-redis-${deployment}-${runId}-${attempt}`
  if (plain.length <= CLIENT_TOKEN_MAX) return plain
  const digest = createHash('sha256').update(plain).digest('hex').slice(0, 16)
  return `${plain.slice(0, CLIENT_TOKEN_MAX - digest.length - 1)}-${digest}`
}

// Tokens per subnet: a retry in another subnet is another request, and reusing one token
// with different parameters is rejected as IdempotentParameterMismatch.
function tokenForSubnet(token: string, index: number): string {
  if (index === 0) return token
  const suffix = `-s${index}`
  return token.slice(0, CLIENT_TOKEN_MAX - suffix.length) + suffix
}

/** Answers that mean "not here, try another subnet (availability zone)". */
export const CAPACITY_ERRORS = [
  'InsufficientInstanceCapacity',
  'Unsupported',
  'InsufficientFreeAddressesInSubnet'
]

export interface LaunchOptions {
  imageId: string
  instanceType: string
  /** Tried in order; the next one on a capacity answer. */
  subnets: string[]
  groupId: string
  keyName?: string
  /** Plain text; encoded here. */
  userData: string
  diskSizeGb: number
  /** Applied to the instance, its root volume and its network interface at creation. */
  tags: Tag[]
  clientToken: string
  /** False when an Elastic IP will be associated (or ssh-via private): no auto public IP. */
  associatePublicIp: boolean
  /** The image's root device (resolveImage gives it); described when omitted. */
  rootDeviceName?: string
  /**
   * With a deadline, InvalidGroup.NotFound for a group created moments ago is retried as
   * eventual consistency (the ClientToken makes the retry safe).
   */
  deadline?: Deadline
}

export interface LaunchResult {
  instance: InstanceSummary
  subnetId: string
  /** Subnets that answered with a capacity error before the launch succeeded. */
  tried: { subnetId: string; error: string }[]
}

export class LaunchError extends Error {
  constructor(
    message: string,
    readonly tried: { subnetId: string; error: string }[]
  ) {
    super(message)
    this.name = 'LaunchError'
  }
}

/**
 * RunInstances, tagged at creation, with an encrypted gp3 root volume of diskSizeGb,
 * IMDSv2 required and the public address decided here rather than by the subnet's
 * default. A capacity answer moves on to the next subnet; any other error ends the launch.
 */
export async function launchInstance(
  ec2: EC2Client,
  options: LaunchOptions
): Promise<LaunchResult> {
  if (options.subnets.length === 0) throw new LaunchError('No subnet to launch in.', [])
  const rootDeviceName = options.rootDeviceName ?? (await rootDeviceOf(ec2, options.imageId))
  const tried: LaunchResult['tried'] = []
  for (const [index, subnetId] of options.subnets.entries()) {
    const run = () =>
      ec2.send(
        new RunInstancesCommand({
          ImageId: options.imageId,
          InstanceType: options.instanceType as _InstanceType,
          MinCount: 1,
          MaxCount: 1,
          ClientToken: tokenForSubnet(options.clientToken, index),
          KeyName: options.keyName || undefined,
          UserData: Buffer.from(options.userData, 'utf8').toString('base64'),
          NetworkInterfaces: [
            {
              DeviceIndex: 0,
              SubnetId: subnetId,
              Groups: [options.groupId],
              AssociatePublicIpAddress: options.associatePublicIp,
              DeleteOnTermination: true
            }
          ],
          BlockDeviceMappings: [
            {
              DeviceName: rootDeviceName,
              Ebs: {
                VolumeSize: options.diskSizeGb,
                VolumeType: 'gp3',
                Encrypted: true,
                DeleteOnTermination: true
              }
            }
          ],
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
          TagSpecifications: ['instance', 'volume', 'network-interface'].map(type => ({
            ResourceType: type as 'instance',
            Tags: options.tags
          }))
        })
      )
    try {
      const answer = options.deadline
        ? await retryEventualConsistency(run, options.deadline, {
            what: `waiting for AWS to see ${options.groupId}`,
            retryable: error => hasErrorCode(error, 'InvalidGroup.NotFound')
          })
        : await run()
      const instance = answer.Instances?.[0]
      if (!instance?.InstanceId) throw new Error('RunInstances answered without an instance.')
      return { instance: toInstanceSummary(instance), subnetId, tried }
    } catch (error) {
      if (!hasErrorCode(error, ...CAPACITY_ERRORS)) {
        if (tried.length === 0) throw error
        throw new LaunchError(
          `Launching in ${subnetId} failed: ${errorMessage(error)} (after ${describeTried(tried)})`,
          [...tried, { subnetId, error: `${errorCode(error) ?? 'Error'}: ${errorMessage(error)}` }]
        )
      }
      tried.push({ subnetId, error: `${errorCode(error)}: ${errorMessage(error)}` })
    }
  }
  throw new LaunchError(
    `No eligible subnet could take a ${options.instanceType}: ${describeTried(tried)}. Try again later, choose another instance-type, or set subnet-id to a subnet in another availability zone.`,
    tried
  )
}

function describeTried(tried: LaunchResult['tried']): string {
  return tried.map(t => `${t.subnetId} answered ${t.error}`).join('; ')
}

async function rootDeviceOf(ec2: EC2Client, imageId: string): Promise<string> {
  const answer = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))
  return answer.Images?.[0]?.RootDeviceName ?? '/dev/sda1'
}

/** Starts a stopped instance; answers the state EC2 reports right after the call. */
export async function startInstance(ec2: EC2Client, instanceId: string): Promise<InstanceState> {
  const answer = await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }))
  return (answer.StartingInstances?.[0]?.CurrentState?.Name ?? 'pending') as InstanceState
}

/** Terminates; an instance that no longer exists counts as terminated. */
export async function terminateInstance(
  ec2: EC2Client,
  instanceId: string
): Promise<InstanceState> {
  try {
    const answer = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
    return (answer.TerminatingInstances?.[0]?.CurrentState?.Name ??
      'shutting-down') as InstanceState
  } catch (error) {
    if (hasErrorCode(error, 'InvalidInstanceID.NotFound')) return 'terminated'
    throw error
  }
}

// States from which the awaited one can no longer be reached.
const DEAD_ENDS: Record<'running' | 'stopped' | 'terminated', InstanceState[]> = {
  running: ['shutting-down', 'terminated'],
  stopped: ['shutting-down', 'terminated'],
  terminated: []
}

export interface WaitOptions {
  intervalMs?: number
  maxIntervalMs?: number
}

/**
 * Polls until the instance reaches `target`. Right after RunInstances, DescribeInstances may
 * answer InvalidInstanceID.NotFound for a while: that is "not visible yet", not an error.
 * Waiting for running or stopped fails at once, with EC2's reason, when the instance ends up
 * terminating instead (a bad KMS key, a volume limit, …).
 */
export async function waitForState(
  ec2: EC2Client,
  instanceId: string,
  target: 'running' | 'stopped' | 'terminated',
  deadline: Deadline,
  options: WaitOptions = {}
): Promise<InstanceSummary> {
  return poll(
    async observe => {
      let instance: InstanceSummary
      try {
        instance = await describeInstance(ec2, instanceId)
      } catch (error) {
        if (!isNotFound(error)) throw error
        if (target === 'terminated')
          return { id: instanceId, state: 'terminated', groupIds: [], tags: [] }
        observe('not visible yet (InvalidInstanceID.NotFound)')
        return undefined
      }
      observe(instance.stateReason ? `${instance.state} (${instance.stateReason})` : instance.state)
      if (instance.state === target) return instance
      if (DEAD_ENDS[target].includes(instance.state))
        throw new Error(
          `${instanceId} is ${instance.state} instead of becoming ${target}` +
            (instance.stateReason ? `: ${instance.stateReason}` : '.')
        )
      return undefined
    },
    {
      what: `waiting for ${instanceId} to be ${target}`,
      deadline,
      intervalMs: options.intervalMs,
      maxIntervalMs: options.maxIntervalMs
    }
  )
}

/** Adds or overwrites tags; with a deadline, a just-created id is retried while not visible. */
export async function tagResource(
  ec2: EC2Client,
  resourceId: string,
  tags: Tag[],
  deadline?: Deadline
): Promise<void> {
  const send = async () => {
    await ec2.send(new CreateTagsCommand({ Resources: [resourceId], Tags: tags }))
  }
  await (deadline ? retryEventualConsistency(send, deadline) : send())
}

/**
 * The instance's serial console text (cloud-init's and the kernel's messages), for a failure
 * report. '' when there is none yet. The API answers base64; text that is not base64 is
 * returned as it came (moto sends plain text).
 */
export async function getConsoleOutput(ec2: EC2Client, instanceId: string): Promise<string> {
  let output: string | undefined
  try {
    output = (await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true })))
      .Output
  } catch (error) {
    // Latest is for Nitro instances only; Xen types (t2) reject it.
    if (!hasErrorCode(error, 'UnsupportedOperation', 'InvalidParameterCombination')) throw error
    output = (await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }))).Output
  }
  return decodeConsole(output ?? '')
}

export function decodeConsole(output: string): string {
  const compact = output.replace(/\s+/g, '')
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact))
    return output
  return Buffer.from(compact, 'base64').toString('utf8')
}

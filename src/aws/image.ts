import {
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  type EC2Client,
  type Image,
  type _InstanceType
} from '@aws-sdk/client-ec2'
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { errorCode, hasErrorCode } from './errors.js'
import { regionOf } from './region.js'

export type Architecture = 'x86_64' | 'arm64'

/** Canonical's AWS account: the only owner whose Ubuntu images are trusted by the fallback. */
export const CANONICAL_OWNER = '099720109477'

const UBUNTU_ARCH: Record<Architecture, string> = { x86_64: 'amd64', arm64: 'arm64' }

/** Canonical's public SSM parameter naming the current Ubuntu 24.04 LTS image. */
export function ubuntuParameterName(architecture: Architecture): string {
  return `/aws/service/canonical/ubuntu/server/24.04/stable/current/${UBUNTU_ARCH[architecture]}/hvm/ebs-gp3/ami-id`
}

/** DescribeImages name pattern of Canonical's Ubuntu 24.04 (noble) server images on gp3. */
export function ubuntuNamePattern(architecture: Architecture): string {
  return `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${UBUNTU_ARCH[architecture]}-server-*`
}

export interface InstanceTypeInfo {
  instanceType: string
  architecture: Architecture
  memoryMiB: number
}

export interface ResolvedImage {
  imageId: string
  name: string
  architecture: Architecture
  source: 'input' | 'ssm' | 'search'
  /** Where the root volume attaches; the launch sizes and encrypts it there. */
  rootDeviceName: string
  /** The instance type's facts, looked up anyway (memory sizes redis-maxmemory auto). */
  instanceType: InstanceTypeInfo
  /** Why the SSM parameter was not used, when the search fallback ran. */
  fallbackReason?: string
}

export class ImageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImageError'
  }
}

/** Architecture and memory of an instance type; fails clearly on an unknown type. */
export async function describeInstanceType(
  ec2: EC2Client,
  instanceType: string
): Promise<InstanceTypeInfo> {
  let info
  try {
    const answer = await ec2.send(
      new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as _InstanceType] })
    )
    info = answer.InstanceTypes?.[0]
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidInstanceType')) throw error
  }
  if (!info)
    throw new ImageError(
      `instance-type ${instanceType} does not exist in ${await regionOf(ec2)}. Use a type offered there, like t3.medium or m7g.large.`
    )
  const supported = info.ProcessorInfo?.SupportedArchitectures ?? []
  const architecture = (['arm64', 'x86_64'] as const).find(a => supported.includes(a))
  if (!architecture)
    throw new ImageError(
      `instance-type ${instanceType} runs ${supported.join(', ') || 'an unknown architecture'}; Ubuntu server images exist for x86_64 and arm64 only. Choose another type.`
    )
  return { instanceType, architecture, memoryMiB: info.MemoryInfo?.SizeInMiB ?? 0 }
}

export interface ResolveImageOptions {
  /** '' resolves the current Ubuntu 24.04 LTS. */
  amiId: string
  instanceType: string
}

/**
 * The image to launch: ami-id as given (checked to exist and to match the instance type's
 * architecture), else the image Canonical's public SSM parameter names, else — when the
 * parameter is missing or not readable — the newest Ubuntu 24.04 server image owned by
 * Canonical.
 */
export async function resolveImage(
  ec2: EC2Client,
  ssm: SSMClient,
  { amiId, instanceType }: ResolveImageOptions
): Promise<ResolvedImage> {
  if (amiId !== '') {
    // Independent reads: both in flight at once.
    const [type, image] = await Promise.all([
      describeInstanceType(ec2, instanceType),
      describeImage(ec2, amiId)
    ])
    if (!image)
      throw new ImageError(
        `ami-id ${amiId} does not exist in ${await regionOf(ec2)} or this account cannot launch it. Copy an image id of this region, or leave ami-id empty for the current Ubuntu 24.04 LTS.`
      )
    checkArchitecture(image, type.architecture, instanceType, 'ami-id')
    return result(image, 'input', type)
  }

  const type = await describeInstanceType(ec2, instanceType)
  const { architecture } = type

  let fallbackReason: string
  try {
    const answer = await ssm.send(
      new GetParameterCommand({ Name: ubuntuParameterName(architecture) })
    )
    const id = answer.Parameter?.Value ?? ''
    const image = id === '' ? undefined : await describeImage(ec2, id)
    if (image) {
      checkArchitecture(
        image,
        architecture,
        instanceType,
        `SSM parameter ${ubuntuParameterName(architecture)}`
      )
      return result(image, 'ssm', type)
    }
    fallbackReason = `the SSM parameter names ${id || 'no image'}, which is not visible in this region`
  } catch (error) {
    if (!hasErrorCode(error, 'ParameterNotFound', 'AccessDeniedException')) throw error
    fallbackReason = `the SSM parameter ${ubuntuParameterName(architecture)} answered ${errorCode(error)}`
  }

  const answer = await ec2.send(
    new DescribeImagesCommand({
      Owners: [CANONICAL_OWNER],
      Filters: [
        { Name: 'name', Values: [ubuntuNamePattern(architecture)] },
        { Name: 'architecture', Values: [architecture] },
        { Name: 'state', Values: ['available'] }
      ]
    })
  )
  const newest = (answer.Images ?? [])
    .filter(i => i.OwnerId === CANONICAL_OWNER)
    .sort(
      (a, b) =>
        (b.CreationDate ?? '').localeCompare(a.CreationDate ?? '') ||
        (b.Name ?? '').localeCompare(a.Name ?? '')
    )[0]
  if (!newest)
    throw new ImageError(
      `no Ubuntu 24.04 image for ${architecture} was found in ${await regionOf(ec2)} (${fallbackReason}, and Canonical's account ${CANONICAL_OWNER} lists no ${ubuntuNamePattern(architecture)}). Set ami-id to an Ubuntu 24.04 image of this region.`
    )
  return { ...result(newest, 'search', type), fallbackReason }
}

async function describeImage(ec2: EC2Client, imageId: string): Promise<Image | undefined> {
  try {
    const answer = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))
    return answer.Images?.[0]
  } catch (error) {
    if (hasErrorCode(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable')) return undefined
    throw error
  }
}

function checkArchitecture(
  image: Image,
  architecture: Architecture,
  instanceType: string,
  origin: string
): void {
  if (image.Architecture === architecture) return
  throw new ImageError(
    `${origin} ${image.ImageId} is a ${image.Architecture ?? 'unknown-architecture'} image but instance-type ${instanceType} runs ${architecture}. Choose an image and an instance type of the same architecture${origin === 'ami-id' ? ', or leave ami-id empty' : ''}.`
  )
}

function result(
  image: Image,
  source: ResolvedImage['source'],
  instanceType: InstanceTypeInfo
): ResolvedImage {
  return {
    imageId: image.ImageId ?? '',
    name: image.Name ?? '',
    architecture: instanceType.architecture,
    source,
    rootDeviceName: image.RootDeviceName ?? '/dev/sda1',
    instanceType
  }
}

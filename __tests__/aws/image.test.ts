import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  EC2Client,
  type Image
} from '@aws-sdk/client-ec2'
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import {
  CANONICAL_OWNER,
  describeInstanceType,
  ImageError,
  resolveImage,
  ubuntuNamePattern,
  ubuntuParameterName
} from '../../src/aws/image.js'
import { awsError } from './aws-errors.js'

const ec2Mock = mockClient(EC2Client)
const ssmMock = mockClient(SSMClient)
const ec2 = new EC2Client({ region: 'us-east-1' })
const ssm = new SSMClient({ region: 'us-east-1' })

const image = (id: string, extra: Partial<Image> = {}): Image => ({
  ImageId: id,
  Name: `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-${id}`,
  Architecture: 'x86_64',
  OwnerId: CANONICAL_OWNER,
  RootDeviceName: '/dev/sda1',
  CreationDate: '2025-06-10T08:00:00.000Z',
  ...extra
})

function instanceTypes(architectures: string[], memory = 4096) {
  ec2Mock.on(DescribeInstanceTypesCommand).resolves({
    InstanceTypes: [
      {
        InstanceType: 't3.medium',
        ProcessorInfo: { SupportedArchitectures: architectures as 'x86_64'[] },
        MemoryInfo: { SizeInMiB: memory }
      }
    ]
  })
}

beforeEach(() => {
  ec2Mock.reset()
  ssmMock.reset()
})

describe('names', () => {
  it("follows Canonical's parameter path and image names", () => {
    expect(ubuntuParameterName('x86_64')).toBe(
      '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id'
    )
    expect(ubuntuParameterName('arm64')).toBe(
      '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id'
    )
    expect(ubuntuNamePattern('arm64')).toBe(
      'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*'
    )
  })
})

describe('describeInstanceType', () => {
  it('reads the architecture and memory', async () => {
    instanceTypes(['x86_64', 'i386'], 4096)
    expect(await describeInstanceType(ec2, 't3.medium')).toEqual({
      instanceType: 't3.medium',
      architecture: 'x86_64',
      memoryMiB: 4096
    })
  })

  it('fails clearly on a type the region does not have', async () => {
    ec2Mock.on(DescribeInstanceTypesCommand).rejects(awsError('InvalidInstanceType'))
    const error = await describeInstanceType(ec2, 't3.bogus').catch(e => e)
    expect(error).toBeInstanceOf(ImageError)
    expect(error.message).toMatch('instance-type t3.bogus does not exist in us-east-1')
  })

  it('fails clearly on an architecture Ubuntu server does not ship', async () => {
    instanceTypes(['x86_64_mac'])
    await expect(describeInstanceType(ec2, 'mac1.metal')).rejects.toThrow(
      /runs x86_64_mac; Ubuntu server images exist for x86_64 and arm64 only/
    )
  })
})

describe('resolveImage', () => {
  it("takes the image Canonical's SSM parameter names for the type's architecture", async () => {
    instanceTypes(['arm64'])
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0a4a' } })
    ec2Mock.on(DescribeImagesCommand, { ImageIds: ['ami-0a4a'] }).resolves({
      Images: [image('ami-0a4a', { Architecture: 'arm64', RootDeviceName: '/dev/xvda' })]
    })
    const resolved = await resolveImage(ec2, ssm, { amiId: '', instanceType: 'm7g.large' })
    expect(resolved).toMatchObject({
      imageId: 'ami-0a4a',
      architecture: 'arm64',
      source: 'ssm',
      rootDeviceName: '/dev/xvda',
      instanceType: { architecture: 'arm64', memoryMiB: 4096 }
    })
    expect(ssmMock.commandCalls(GetParameterCommand)[0].args[0].input).toEqual({
      Name: ubuntuParameterName('arm64')
    })
  })

  it('falls back to the newest Canonical noble image when the parameter is missing', async () => {
    instanceTypes(['x86_64'])
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'))
    ec2Mock.on(DescribeImagesCommand).resolves({
      Images: [
        image('ami-old', { CreationDate: '2025-03-05T08:00:00.000Z' }),
        image('ami-new', { CreationDate: '2025-06-10T08:00:00.000Z' }),
        // Filtered by owner already, but never trusted blindly.
        image('ami-fake', { CreationDate: '2099-01-01T00:00:00.000Z', OwnerId: '111122223333' })
      ]
    })
    const resolved = await resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })
    expect(resolved).toMatchObject({ imageId: 'ami-new', source: 'search', architecture: 'x86_64' })
    expect(resolved.fallbackReason).toMatch(/answered ParameterNotFound/)
    expect(ec2Mock.commandCalls(DescribeImagesCommand)[0].args[0].input).toEqual({
      Owners: [CANONICAL_OWNER],
      Filters: [
        { Name: 'name', Values: [ubuntuNamePattern('x86_64')] },
        { Name: 'architecture', Values: ['x86_64'] },
        { Name: 'state', Values: ['available'] }
      ]
    })
  })

  it('falls back when the credentials may not read the parameter', async () => {
    instanceTypes(['x86_64'])
    ssmMock.on(GetParameterCommand).rejects(awsError('AccessDeniedException'))
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [image('ami-new')] })
    expect((await resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })).source).toBe(
      'search'
    )
  })

  it('falls back when the parameter names an image this region does not show', async () => {
    instanceTypes(['x86_64'])
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-gone' } })
    ec2Mock
      .on(DescribeImagesCommand, { ImageIds: ['ami-gone'] })
      .rejects(awsError('InvalidAMIID.NotFound'))
    ec2Mock
      .on(DescribeImagesCommand, { Owners: [CANONICAL_OWNER] }, false)
      .resolves({ Images: [image('ami-new')] })
    const resolved = await resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })
    expect(resolved.imageId).toBe('ami-new')
    expect(resolved.fallbackReason).toMatch(/names ami-gone, which is not visible/)
  })

  it('fails with the fix when neither the parameter nor the search finds an image', async () => {
    instanceTypes(['x86_64'])
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'))
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] })
    await expect(resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })).rejects.toThrow(
      /no Ubuntu 24.04 image for x86_64 was found in us-east-1 .* Set ami-id/
    )
  })

  it('passes unexpected SSM errors through', async () => {
    instanceTypes(['x86_64'])
    ssmMock.on(GetParameterCommand).rejects(awsError('ThrottlingException'))
    await expect(resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })).rejects.toThrow(
      'ThrottlingException'
    )
  })

  it('checks a given ami-id exists and matches the architecture, without SSM', async () => {
    instanceTypes(['x86_64'])
    ec2Mock
      .on(DescribeImagesCommand)
      .resolves({ Images: [image('ami-0given', { Name: 'custom' })] })
    const resolved = await resolveImage(ec2, ssm, {
      amiId: 'ami-0given',
      instanceType: 't3.medium'
    })
    expect(resolved).toMatchObject({ imageId: 'ami-0given', name: 'custom', source: 'input' })
    expect(ssmMock.calls()).toHaveLength(0)
  })

  it('rejects a given ami-id of the other architecture', async () => {
    instanceTypes(['x86_64'])
    ec2Mock
      .on(DescribeImagesCommand)
      .resolves({ Images: [image('ami-0arm', { Architecture: 'arm64' })] })
    await expect(
      resolveImage(ec2, ssm, { amiId: 'ami-0arm', instanceType: 't3.medium' })
    ).rejects.toThrow(/ami-id ami-0arm is a arm64 image but instance-type t3.medium runs x86_64/)
  })

  it('rejects a given ami-id that does not exist', async () => {
    instanceTypes(['x86_64'])
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('InvalidAMIID.NotFound'))
    await expect(
      resolveImage(ec2, ssm, { amiId: 'ami-0nope', instanceType: 't3.medium' })
    ).rejects.toThrow(/ami-id ami-0nope does not exist in us-east-1/)
  })
})

// The moto harness itself: what tests of the orchestration rely on (routing through the SDK's
// standard variables, reset, seeded images and parameters, data.json as a change detector).
import { expect, it } from '@jest/globals'
import { DescribeImagesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import { GetParameterCommand } from '@aws-sdk/client-ssm'
import { createAwsClients } from '../../src/aws/client.js'
import { resolveImage } from '../../src/aws/image.js'
import { resolveNetwork } from '../../src/aws/network.js'
import { createSecurityGroup } from '../../src/aws/security-group.js'
import { IMAGES, PUBLIC_PARAMETERS, UBUNTU_PARAMETER } from '../support/moto-images.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('moto harness', suite => {
  it('routes default SDK clients to moto through the standard variables', async () => {
    expect(process.env.AWS_ENDPOINT_URL_EC2).toBe(suite.moto.url)
    expect(process.env.AWS_ENDPOINT_URL_SSM).toBe(suite.moto.url)
    expect(suite.moto.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const { ec2, ssm } = createAwsClients(suite.moto.region)
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477'] }))
    expect(images.Images?.map(i => i.ImageId).sort()).toEqual(
      Object.values(IMAGES)
        .filter(i => i.owner_id === '099720109477')
        .map(i => i.ami_id)
        .sort()
    )
    const parameter = await ssm.send(new GetParameterCommand({ Name: UBUNTU_PARAMETER('arm64') }))
    expect(parameter.Parameter?.Value).toBe(PUBLIC_PARAMETERS[UBUNTU_PARAMETER('arm64')])
  })

  it('serves the seeded images in every region, with their creation dates', async () => {
    const { ec2 } = createAwsClients('eu-west-2')
    const images = await ec2.send(
      new DescribeImagesCommand({ ImageIds: [IMAGES.nobleArm64Old.ami_id] })
    )
    expect(images.Images?.[0]).toMatchObject({
      Name: IMAGES.nobleArm64Old.name,
      Architecture: 'arm64',
      CreationDate: IMAGES.nobleArm64Old.creation_date
    })
  })

  it('resets to the seeded start, again and again', async () => {
    const vpc = await suite.moto.createTestVpc()
    await suite.moto.setPublicParameters({})
    for (let i = 0; i < 2; i++) {
      await suite.moto.reset()
      const { ec2, ssm } = createAwsClients(suite.moto.region)
      await expect(
        resolveNetwork(ec2, {
          vpcId: vpc.vpcId,
          subnetId: '',
          sshVia: 'public',
          clientSecurityGroupId: ''
        })
      ).rejects.toThrow(/does not exist/)
      expect((await resolveImage(ec2, ssm, { amiId: '', instanceType: 't3.medium' })).source).toBe(
        'ssm'
      )
    }
  })

  it('takes a state snapshot that read-only calls leave identical and a change does not', async () => {
    const vpc = await suite.moto.createTestVpc()
    const { ec2, ssm } = createAwsClients(suite.moto.region)
    const before = await suite.moto.stateSnapshot()
    const rawBefore = await suite.moto.dataJson()
    await resolveNetwork(ec2, {
      vpcId: vpc.vpcId,
      subnetId: '',
      sshVia: 'public',
      clientSecurityGroupId: '',
      groupName: 'redis'
    })
    await resolveImage(ec2, ssm, { amiId: '', instanceType: 'm7g.large' })
    await ec2.send(new DescribeInstancesCommand({}))
    // The raw file grows on reads (that is why the snapshot exists)…
    expect(await suite.moto.dataJson()).not.toBe(rawBefore)
    // …the snapshot does not.
    expect(await suite.moto.stateSnapshot()).toBe(before)
    await createSecurityGroup(ec2, { vpcId: vpc.vpcId, name: 'redis', description: 'd', tags: [] })
    expect(await suite.moto.stateSnapshot()).not.toBe(before)
  })
})

// The Redis instance against moto: launch as specified, find by tag, start a stopped one,
// terminate; every property the launch promises is read back from moto.
import { expect, it } from '@jest/globals'
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeVolumesCommand,
  StopInstancesCommand
} from '@aws-sdk/client-ec2'
import { createAwsClients } from '../../src/aws/client.js'
import {
  clientToken,
  findInstance,
  findInstances,
  getConsoleOutput,
  launchInstance,
  startInstance,
  tagResource,
  terminateInstance,
  waitForState,
  type LaunchOptions
} from '../../src/aws/instance.js'
import { Deadline } from '../../src/aws/poll.js'
import { createSecurityGroup } from '../../src/aws/security-group.js'
import { resourceTags, tagRecord } from '../../src/aws/tags.js'
import { IMAGES } from '../support/moto-images.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws instance against moto', suite => {
  const ec2 = () => createAwsClients(suite.moto.region).ec2
  const tags = resourceTags({
    deployment: 'it-instance',
    name: 'openemr-redis',
    extra: { team: 'clinic-it' }
  })
  const USER_DATA = '#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA test\n'

  async function launchOptions(extra: Partial<LaunchOptions> = {}): Promise<LaunchOptions> {
    const vpc = await suite.moto.createTestVpc()
    const { group } = await createSecurityGroup(ec2(), {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'd',
      tags
    })
    return {
      imageId: IMAGES.nobleAmd64.ami_id,
      instanceType: 't3.medium',
      subnets: [vpc.publicSubnetId],
      groupId: group.id,
      userData: USER_DATA,
      diskSizeGb: 16,
      tags,
      clientToken: clientToken('it-instance', '1001', 1),
      associatePublicIp: false,
      rootDeviceName: '/dev/sda1',
      ...extra
    }
  }

  it('launches tagged (instance, volume, interface), encrypted gp3, IMDSv2, with the user data', async () => {
    const options = await launchOptions()
    const { instance, subnetId, tried } = await launchInstance(ec2(), options)
    expect(subnetId).toBe(options.subnets[0])
    expect(tried).toEqual([])
    expect(instance).toMatchObject({
      state: 'pending',
      privateIp: '10.20.1.4',
      publicIp: undefined
    })
    expect(instance.groupIds).toEqual([options.groupId])

    const described = (
      await suite.moto.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.id] }))
    ).Reservations?.[0]?.Instances?.[0]
    expect(tagRecord(described?.Tags)).toEqual(tagRecord(tags))
    expect(described?.MetadataOptions?.HttpTokens).toBe('required')
    expect(described?.ClientToken).toBe('openemr-redis-it-instance-1001-1')

    const volumes = await suite.moto.ec2.send(
      new DescribeVolumesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instance.id] }]
      })
    )
    expect(volumes.Volumes).toHaveLength(1)
    expect(volumes.Volumes?.[0]).toMatchObject({ Size: 16, VolumeType: 'gp3', Encrypted: true })
    expect(volumes.Volumes?.[0].Attachments?.[0].Device).toBe('/dev/sda1')
    expect(tagRecord(volumes.Volumes?.[0].Tags)).toEqual(tagRecord(tags))

    const interfaces = await suite.moto.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instance.id] }]
      })
    )
    expect(interfaces.NetworkInterfaces?.[0].Attachment?.DeleteOnTermination).toBe(true)

    const userData = await suite.moto.ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: instance.id, Attribute: 'userData' })
    )
    expect(Buffer.from(userData.UserData?.Value ?? '', 'base64').toString('utf8')).toBe(USER_DATA)
  })

  it('finds the instance by its deployment tag and waits for it to run', async () => {
    const { instance } = await launchInstance(ec2(), await launchOptions())
    expect(await findInstance(ec2(), 'other-deployment')).toBeUndefined()
    const found = await findInstance(ec2(), 'it-instance')
    expect(found?.id).toBe(instance.id)
    const running = await waitForState(ec2(), instance.id, 'running', new Deadline(30))
    expect(running).toMatchObject({ id: instance.id, state: 'running', privateIp: '10.20.1.4' })
  })

  it('starts a stopped instance', async () => {
    const { instance } = await launchInstance(ec2(), await launchOptions())
    await suite.moto.ec2.send(new StopInstancesCommand({ InstanceIds: [instance.id] }))
    const stopped = await findInstance(ec2(), 'it-instance')
    expect(stopped).toMatchObject({ id: instance.id, state: 'stopped' })
    expect(await startInstance(ec2(), instance.id)).toMatch(/pending|running/)
    expect((await waitForState(ec2(), instance.id, 'running', new Deadline(30))).state).toBe(
      'running'
    )
  })

  it('terminates, after which the deployment has no live instance', async () => {
    const { instance } = await launchInstance(ec2(), await launchOptions())
    await terminateInstance(ec2(), instance.id)
    expect((await waitForState(ec2(), instance.id, 'terminated', new Deadline(30))).state).toBe(
      'terminated'
    )
    expect(await findInstances(ec2(), 'it-instance')).toEqual([])
    // Its interface (DeleteOnTermination) went with it.
    const interfaces = await suite.moto.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instance.id] }]
      })
    )
    expect(interfaces.NetworkInterfaces).toEqual([])
  })

  it('asks for a public address only when told to', async () => {
    const { instance } = await launchInstance(
      ec2(),
      await launchOptions({ associatePublicIp: true })
    )
    const running = await waitForState(ec2(), instance.id, 'running', new Deadline(30))
    expect(running.publicIp).toBeDefined()
  })

  it('reads the console output and retags the instance', async () => {
    const { instance } = await launchInstance(
      ec2(),
      await launchOptions({ rootDeviceName: undefined })
    )
    expect(await getConsoleOutput(ec2(), instance.id)).toMatch(/Linux version/)
    await tagResource(ec2(), instance.id, [{ Key: 'Name', Value: 'renamed' }], new Deadline(10))
    expect((await findInstance(ec2(), 'it-instance'))?.tags).toEqual(
      expect.arrayContaining([{ Key: 'Name', Value: 'renamed' }])
    )
  })
})

import { beforeEach, describe, expect, it } from '@jest/globals'
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  type Instance
} from '@aws-sdk/client-ec2'
import { mockClient } from 'aws-sdk-client-mock'
import {
  clientToken,
  decodeConsole,
  findInstance,
  findInstances,
  getConsoleOutput,
  launchInstance,
  LaunchError,
  startInstance,
  tagResource,
  terminateInstance,
  waitForState,
  type LaunchOptions
} from '../../src/aws/instance.js'
import { Deadline } from '../../src/aws/poll.js'
import { awsError } from './aws-errors.js'

const ec2Mock = mockClient(EC2Client)
const ec2 = new EC2Client({ region: 'us-east-1' })
const fast = { intervalMs: 1, maxIntervalMs: 1 }

const instance = (id: string, state: string, extra: Partial<Instance> = {}): Instance => ({
  InstanceId: id,
  State: { Name: state as 'running' },
  PrivateIpAddress: '10.20.1.4',
  SubnetId: 'subnet-a',
  VpcId: 'vpc-1',
  LaunchTime: new Date('2025-06-10T08:00:00Z'),
  NetworkInterfaces: [{ Groups: [{ GroupId: 'sg-1' }] }],
  Tags: [{ Key: 'Name', Value: 'openemr-redis' }],
  ...extra
})
const describing = (...instances: Instance[]) => ({ Reservations: [{ Instances: instances }] })

beforeEach(() => {
  ec2Mock.reset()
})

describe('findInstance', () => {
  it('filters by the deployment tag and live states and maps the summary', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves(describing(instance('i-1', 'stopped', { PublicIpAddress: '', KeyName: 'k' })))
    const found = await findInstance(ec2, 'prod')
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters).toEqual([
      { Name: 'tag:openemr-redis:deployment', Values: ['prod'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }
    ])
    expect(found).toEqual({
      id: 'i-1',
      state: 'stopped',
      privateIp: '10.20.1.4',
      publicIp: undefined,
      subnetId: 'subnet-a',
      vpcId: 'vpc-1',
      availabilityZone: undefined,
      imageId: undefined,
      instanceType: undefined,
      keyName: 'k',
      groupIds: ['sg-1'],
      tags: [{ Key: 'Name', Value: 'openemr-redis' }],
      launchTime: new Date('2025-06-10T08:00:00Z'),
      stateReason: undefined
    })
  })

  it('lists every live instance across pages, newest first', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({
        ...describing(instance('i-old', 'running', { LaunchTime: new Date('2025-01-01') })),
        NextToken: 'page2'
      })
      .resolves(describing(instance('i-new', 'pending', { LaunchTime: new Date('2025-02-01') })))
    expect((await findInstances(ec2, 'prod')).map(i => i.id)).toEqual(['i-new', 'i-old'])
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[1].args[0].input.NextToken).toBe('page2')
  })

  it('finds the newest of several', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves(
        describing(
          instance('i-old', 'running', { LaunchTime: new Date('2025-01-01') }),
          instance('i-new', 'stopped', { LaunchTime: new Date('2025-02-01') })
        )
      )
    expect((await findInstance(ec2, 'prod'))?.id).toBe('i-new')
  })

  it('answers undefined when the deployment has no live instance', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] })
    expect(await findInstance(ec2, 'prod')).toBeUndefined()
  })
})

describe('clientToken', () => {
  it('is deterministic and at most 64 characters', () => {
    expect(clientToken('prod', '123', 1)).toBe('openemr-redis-prod-123-1')
    expect(clientToken('prod', '123', 1)).toBe(clientToken('prod', '123', 1))
    const long = clientToken('d'.repeat(40), '12345678901234567890', 3)
    expect(long).toHaveLength(64)
    expect(long).toBe(clientToken('d'.repeat(40), '12345678901234567890', 3))
    expect(long).not.toBe(clientToken('d'.repeat(40), '12345678901234567890', 4))
  })
})

describe('launchInstance', () => {
  const options: LaunchOptions = {
    imageId: 'ami-1',
    instanceType: 't3.medium',
    subnets: ['subnet-a', 'subnet-b', 'subnet-c'],
    groupId: 'sg-1',
    userData: '#cloud-config\nssh_authorized_keys: []\n',
    diskSizeGb: 20,
    tags: [{ Key: 'openemr-redis:deployment', Value: 'prod' }],
    clientToken: 'openemr-redis-prod-123-1',
    associatePublicIp: false,
    rootDeviceName: '/dev/sda1'
  }

  it('launches tagged, encrypted gp3, IMDSv2-only, in the first subnet', async () => {
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [instance('i-1', 'pending')] })
    const result = await launchInstance(ec2, { ...options, keyName: 'my-key' })
    expect(result).toMatchObject({
      subnetId: 'subnet-a',
      tried: [],
      instance: { id: 'i-1', state: 'pending' }
    })
    expect(ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input).toEqual({
      ImageId: 'ami-1',
      InstanceType: 't3.medium',
      MinCount: 1,
      MaxCount: 1,
      ClientToken: 'openemr-redis-prod-123-1',
      KeyName: 'my-key',
      UserData: Buffer.from(options.userData).toString('base64'),
      NetworkInterfaces: [
        {
          DeviceIndex: 0,
          SubnetId: 'subnet-a',
          Groups: ['sg-1'],
          AssociatePublicIpAddress: false,
          DeleteOnTermination: true
        }
      ],
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/sda1',
          Ebs: { VolumeSize: 20, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true }
        }
      ],
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      TagSpecifications: [
        { ResourceType: 'instance', Tags: options.tags },
        { ResourceType: 'volume', Tags: options.tags },
        { ResourceType: 'network-interface', Tags: options.tags }
      ]
    })
  })

  it('omits an empty key name and describes the image for its root device when not given', async () => {
    ec2Mock
      .on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: 'ami-1', RootDeviceName: '/dev/xvda' }] })
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [instance('i-1', 'pending')] })
    await launchInstance(ec2, {
      ...options,
      keyName: '',
      rootDeviceName: undefined,
      associatePublicIp: true
    })
    const input = ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input
    expect(input.KeyName).toBeUndefined()
    expect(input.BlockDeviceMappings?.[0].DeviceName).toBe('/dev/xvda')
    expect(input.NetworkInterfaces?.[0].AssociatePublicIpAddress).toBe(true)
  })

  it.each(['InsufficientInstanceCapacity', 'Unsupported'])(
    'moves on to the next subnet on %s and says which were tried',
    async code => {
      ec2Mock
        .on(RunInstancesCommand)
        .rejectsOnce(awsError(code, 'no capacity in us-east-1a'))
        .resolves({ Instances: [instance('i-2', 'pending', { SubnetId: 'subnet-b' })] })
      const result = await launchInstance(ec2, options)
      expect(result.subnetId).toBe('subnet-b')
      expect(result.tried).toEqual([
        { subnetId: 'subnet-a', error: `${code}: no capacity in us-east-1a` }
      ])
      const calls = ec2Mock.commandCalls(RunInstancesCommand).map(c => c.args[0].input)
      expect(calls.map(c => c.NetworkInterfaces?.[0].SubnetId)).toEqual(['subnet-a', 'subnet-b'])
      // A retry elsewhere is another request: its own token, still within 64 characters.
      expect(calls.map(c => c.ClientToken)).toEqual([
        'openemr-redis-prod-123-1',
        'openemr-redis-prod-123-1-s1'
      ])
    }
  )

  it('fails listing every subnet when none has capacity', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(awsError('InsufficientInstanceCapacity', 'none'))
    const error = await launchInstance(ec2, options).catch(e => e)
    expect(error).toBeInstanceOf(LaunchError)
    expect(error.tried.map((t: { subnetId: string }) => t.subnetId)).toEqual([
      'subnet-a',
      'subnet-b',
      'subnet-c'
    ])
    expect(error.message).toMatch(
      /No eligible subnet could take a t3.medium: subnet-a answered InsufficientInstanceCapacity: none; subnet-b/
    )
  })

  it('retries a group EC2 does not see yet, given a deadline, with the same token', async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .rejectsOnce(awsError('InvalidGroup.NotFound'))
      .resolves({ Instances: [instance('i-1', 'pending')] })
    const result = await launchInstance(ec2, { ...options, deadline: new Deadline(10) })
    expect(result.subnetId).toBe('subnet-a')
    const tokens = ec2Mock.commandCalls(RunInstancesCommand).map(c => c.args[0].input.ClientToken)
    expect(tokens).toEqual(['openemr-redis-prod-123-1', 'openemr-redis-prod-123-1'])
  })

  it('does not retry a missing key pair, even with a deadline', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(awsError('InvalidKeyPair.NotFound'))
    await expect(
      launchInstance(ec2, { ...options, keyName: 'typo', deadline: new Deadline(10) })
    ).rejects.toThrow('InvalidKeyPair.NotFound')
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(1)
  })

  it('stops at any other error, at once', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(awsError('InvalidKeyPair.NotFound'))
    await expect(launchInstance(ec2, options)).rejects.toThrow('InvalidKeyPair.NotFound')
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(1)
  })

  it('names the subnets tried before another error', async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .rejectsOnce(awsError('Unsupported', 'not offered'))
      .rejects(awsError('VcpuLimitExceeded', 'limit'))
    const error = await launchInstance(ec2, options).catch(e => e)
    expect(error).toBeInstanceOf(LaunchError)
    expect(error.message).toMatch(
      /Launching in subnet-b failed: limit \(after subnet-a answered Unsupported: not offered\)/
    )
  })
})

describe('start, terminate, tag', () => {
  it('starts a stopped instance', async () => {
    ec2Mock.on(StartInstancesCommand).resolves({
      StartingInstances: [{ InstanceId: 'i-1', CurrentState: { Name: 'pending' } }]
    })
    expect(await startInstance(ec2, 'i-1')).toBe('pending')
  })

  it('terminates, and an instance already gone counts as terminated', async () => {
    ec2Mock.on(TerminateInstancesCommand).resolves({
      TerminatingInstances: [{ InstanceId: 'i-1', CurrentState: { Name: 'shutting-down' } }]
    })
    expect(await terminateInstance(ec2, 'i-1')).toBe('shutting-down')
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'))
    expect(await terminateInstance(ec2, 'i-1')).toBe('terminated')
  })

  it('tags a resource, retrying a just-created id with a deadline', async () => {
    ec2Mock.on(CreateTagsCommand).rejectsOnce(awsError('InvalidGroup.NotFound')).resolves({})
    await tagResource(ec2, 'sg-1', [{ Key: 'a', Value: 'b' }], new Deadline(5))
    expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(2)
    expect(ec2Mock.commandCalls(CreateTagsCommand)[1].args[0].input).toEqual({
      Resources: ['sg-1'],
      Tags: [{ Key: 'a', Value: 'b' }]
    })
  })
})

describe('waitForState', () => {
  it('polls until the instance runs, treating NotFound as not yet visible', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .rejectsOnce(awsError('InvalidInstanceID.NotFound'))
      .resolvesOnce(describing(instance('i-1', 'pending')))
      .resolves(describing(instance('i-1', 'running', { PublicIpAddress: '198.51.100.9' })))
    const running = await waitForState(ec2, 'i-1', 'running', new Deadline(5), fast)
    expect(running).toMatchObject({ id: 'i-1', state: 'running', publicIp: '198.51.100.9' })
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(3)
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({
      InstanceIds: ['i-1']
    })
  })

  it("fails at once with EC2's reason when the instance terminates instead", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(
      describing(
        instance('i-1', 'terminated', {
          StateReason: {
            Code: 'Client.InvalidKMSKey.InvalidState',
            Message:
              'Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state'
          }
        })
      )
    )
    await expect(waitForState(ec2, 'i-1', 'running', new Deadline(5), fast)).rejects.toThrow(
      /i-1 is terminated instead of becoming running: Client.InvalidKMSKey.InvalidState/
    )
  })

  it('counts an instance that is gone as terminated', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound'))
    expect((await waitForState(ec2, 'i-1', 'terminated', new Deadline(5), fast)).state).toBe(
      'terminated'
    )
  })

  it("times out with EC2's reason for the last state", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(
      describing(
        instance('i-1', 'stopped', {
          StateReason: {
            Code: 'Server.InsufficientInstanceCapacity',
            Message: 'Server.InsufficientInstanceCapacity: Insufficient capacity'
          }
        })
      )
    )
    await expect(waitForState(ec2, 'i-1', 'running', new Deadline(0.05), fast)).rejects.toThrow(
      /last seen: stopped \(Server.InsufficientInstanceCapacity: Insufficient capacity\)/
    )
  })

  it('times out naming the instance and its last state', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(describing(instance('i-1', 'stopping')))
    await expect(waitForState(ec2, 'i-1', 'stopped', new Deadline(0.05), fast)).rejects.toThrow(
      /waiting for i-1 to be stopped; last seen: stopping/
    )
  })
})

describe('getConsoleOutput', () => {
  it('decodes the base64 answer, asking for the latest output', async () => {
    ec2Mock
      .on(GetConsoleOutputCommand)
      .resolves({ Output: Buffer.from('cloud-init: done\n').toString('base64') })
    expect(await getConsoleOutput(ec2, 'i-1')).toBe('cloud-init: done\n')
    expect(ec2Mock.commandCalls(GetConsoleOutputCommand)[0].args[0].input).toEqual({
      InstanceId: 'i-1',
      Latest: true
    })
  })

  it('asks again without Latest where the instance type does not support it', async () => {
    ec2Mock
      .on(GetConsoleOutputCommand, { InstanceId: 'i-1', Latest: true })
      .rejects(awsError('UnsupportedOperation'))
      .on(GetConsoleOutputCommand, { InstanceId: 'i-1' }, true)
      .resolves({ Output: Buffer.from('boot').toString('base64') })
    expect(await getConsoleOutput(ec2, 'i-1')).toBe('boot')
  })

  it('answers empty text when there is no output yet', async () => {
    ec2Mock.on(GetConsoleOutputCommand).resolves({})
    expect(await getConsoleOutput(ec2, 'i-1')).toBe('')
  })

  it('leaves text that is not base64 as it is (moto)', () => {
    expect(decodeConsole('Linux version 2.6.16 (gcc)\n')).toBe('Linux version 2.6.16 (gcc)\n')
    expect(decodeConsole(Buffer.from('a\nb').toString('base64'))).toBe('a\nb')
  })
})

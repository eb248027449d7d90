// The fault proxy in front of a real moto server, driven by the real AWS SDK: what each rule
// does must reach the SDK the way real EC2's behaviour would (exception names, retries, states).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeInstanceStatusCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2ClientConfig
} from '@aws-sdk/client-ec2'
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { IMAGES } from '../support/moto-images.js'
import { motoUnavailable, startMoto, type Moto } from '../support/moto.js'
import { children, select } from '../support/fault-proxy-xml.js'
import { takeFilters } from '../support/fault-proxy-request.js'

const REGION = 'us-east-1'
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' }

const skip = motoUnavailable()
if (skip) console.warn(`skipping the fault proxy integration tests: ${skip}`)
const describeWithMoto = skip ? describe.skip : describe

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (e) {
    return e as Error & Record<string, unknown>
  }
  throw new Error('expected the call to fail, it succeeded')
}

describe('fault proxy parts', () => {
  it('finds only direct children, so nested items never pass for the item itself', () => {
    const xml =
      '<?xml version="1.0"?><R xmlns="x"><set><item><id>a</id><groups><item><id>b</id></item>' +
      '</groups></item><item/><item><id>c</id></item></set></R>'
    const items = select(xml, ['*', 'set', 'item'])
    expect(items).toHaveLength(3)
    expect(items.map(i => children(xml, i).find(c => c.name === 'id'))).toEqual([
      expect.objectContaining({ name: 'id' }),
      undefined,
      expect.objectContaining({ name: 'id' })
    ])
  })

  it('takes state filters out of a query and renumbers the rest', () => {
    const params = new URLSearchParams(
      'Action=DescribeInstances&Filter.1.Name=tag:a&Filter.1.Value.1=x&' +
        'Filter.2.Name=instance-state-name&Filter.2.Value.1=running&Filter.2.Value.2=pending&' +
        'Filter.3.Name=vpc-id&Filter.3.Value.1=vpc-1'
    )
    const { params: rest, taken } = takeFilters(params, ['instance-state-name'])
    expect(taken).toEqual([{ name: 'instance-state-name', values: ['running', 'pending'] }])
    expect(rest.toString()).toBe(
      'Action=DescribeInstances&Filter.1.Name=tag%3Aa&Filter.1.Value.1=x&' +
        'Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1'
    )
  })
})

describeWithMoto('fault proxy in front of moto', () => {
  let moto: Moto
  let proxy: FaultProxy
  const imageId = IMAGES.nobleAmd64.ami_id

  const clients: { destroy(): void }[] = []
  const ec2 = (config: Partial<EC2ClientConfig> = {}): EC2Client => {
    const client = new EC2Client({
      region: REGION,
      credentials: CREDENTIALS,
      endpoint: proxy.url,
      ...config
    })
    clients.push(client)
    return client
  }
  const once = (): EC2Client => ec2({ maxAttempts: 1 })

  beforeAll(async () => {
    moto = await startMoto({ region: REGION })
    proxy = await startFaultProxy({ target: moto.url, seed: 42 })
  }, 60_000)

  afterEach(() => {
    for (const client of clients.splice(0)) client.destroy()
  })

  afterAll(async () => {
    await proxy?.stop()
    await moto?.stop()
  }, 30_000)

  beforeEach(async () => {
    await moto.reset()
    proxy.setRules({})
    proxy.reset()
  })

  const launch = async (client: EC2Client, groupIds?: string[]): Promise<string> => {
    const run = await client.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
        SecurityGroupIds: groupIds
      })
    )
    return run.Instances?.[0]?.InstanceId ?? ''
  }

  const stateOf = async (client: EC2Client, instanceId: string) => {
    const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
    return out.Reservations?.[0]?.Instances?.[0]?.State
  }

  const readyAt = (id: string, state: string): number => {
    const moment = proxy.readyMoments.find(m => m.id === id && m.state === state)
    if (!moment) throw new Error(`no ready moment ${state} for ${id}`)
    return moment.at
  }

  const untilPast = async (epochMs: number): Promise<void> => sleep(epochMs - Date.now() + 20)

  it('adds latency per action, with a default for the rest', async () => {
    proxy.setRules({ latencyMs: { default: 120, DescribeVpcs: 300 } })
    const client = once()
    let started = Date.now()
    await client.send(new DescribeVpcsCommand({}))
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    started = Date.now()
    await client.send(new DescribeSecurityGroupsCommand({}))
    expect(Date.now() - started).toBeGreaterThanOrEqual(120)
    expect(proxy.log.map(r => [r.action, r.status])).toEqual([
      ['DescribeVpcs', 200],
      ['DescribeSecurityGroups', 200]
    ])
    expect(proxy.log[0].ms).toBeGreaterThanOrEqual(300)
    expect(proxy.log[1].ms).toBeGreaterThanOrEqual(120)
  })

  it('throttles as EC2 does: the SDK sees RequestLimitExceeded, a 503 it treats as throttling', async () => {
    proxy.setRules({ throttleRate: { DescribeVpcs: 1 } })
    const error = await failure(once().send(new DescribeVpcsCommand({})))
    expect(error.name).toBe('RequestLimitExceeded')
    expect(error.message).toBe('Request limit exceeded.')
    expect(error.$metadata).toMatchObject({ httpStatusCode: 503 })
    expect(proxy.log).toEqual([
      expect.objectContaining({ action: 'DescribeVpcs', injected: 'RequestLimitExceeded' })
    ])
    expect(proxy.log[0]).toMatchObject({ status: 503, forwarded: false })
  })

  it('with 30 % of calls throttled, 50 DescribeVpcs in a row all succeed under adaptive retries', async () => {
    proxy.setRules({ throttleRate: 0.3 })
    const client = ec2({ retryMode: 'adaptive', maxAttempts: 10 })
    let attempts = 0
    const started = Date.now()
    for (let i = 0; i < 50; i++) {
      const out = await client.send(new DescribeVpcsCommand({}))
      expect(out.Vpcs?.length).toBeGreaterThan(0)
      attempts += out.$metadata.attempts ?? 1
    }
    const { calls, injected } = proxy.counts()
    const throttles = injected.RequestLimitExceeded ?? 0
    console.info(
      `fault proxy: ${throttles} of ${calls.DescribeVpcs} DescribeVpcs calls throttled; ` +
        `50 succeeded in ${Date.now() - started} ms`
    )
    // 30 % of ~70 calls: far from 0 and from all of them (the seed fixes the exact number).
    expect(throttles).toBeGreaterThanOrEqual(8)
    expect(throttles).toBeLessThanOrEqual(40)
    expect(calls.DescribeVpcs).toBe(50 + throttles)
    expect(attempts).toBe(50 + throttles)
  }, 180_000)

  it('throttles the same calls again for the same seed', async () => {
    proxy.setRules({ throttleRate: 0.5 })
    const pattern = async (): Promise<string> => {
      const client = once()
      let out = ''
      for (let i = 0; i < 24; i++) {
        out += await client.send(new DescribeVpcsCommand({})).then(
          () => '.',
          () => 'T'
        )
      }
      return out
    }
    const first = await pattern()
    proxy.reset()
    const second = await pattern()
    expect(second).toBe(first)
    expect(first).toMatch(/T/)
    expect(first).toMatch(/\./)
    const other = await startFaultProxy({ target: moto.url, seed: 7, rules: { throttleRate: 0.5 } })
    try {
      const client = new EC2Client({
        region: REGION,
        credentials: CREDENTIALS,
        endpoint: other.url,
        maxAttempts: 1
      })
      clients.push(client)
      let third = ''
      for (let i = 0; i < 24; i++) {
        third += await client.send(new DescribeVpcsCommand({})).then(
          () => '.',
          () => 'T'
        )
      }
      expect(third).not.toBe(first)
    } finally {
      await other.stop()
    }
  })

  it('hides new ids for a while after their create: *.NotFound by id, absent from listings', async () => {
    proxy.setRules({ notFoundAfterCreateMs: 1500 })
    const client = once()
    const group = await client.send(
      new CreateSecurityGroupCommand({ GroupName: 'redis', Description: 'fault proxy test' })
    )
    const groupId = group.GroupId ?? ''
    const instanceId = await launch(client)
    const allocationId = (await client.send(new AllocateAddressCommand({ Domain: 'vpc' })))
      .AllocationId as string

    const byId = await failure(
      client.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    )
    expect(byId.name).toBe('InvalidGroup.NotFound')
    expect(byId.message).toBe(`The security group '${groupId}' does not exist`)
    expect(byId.$metadata).toMatchObject({ httpStatusCode: 400 })

    const listed = await client.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['redis'] }] })
    )
    expect(listed.SecurityGroups).toEqual([])

    const tagging = await failure(
      client.send(
        new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: 'a', Value: 'b' }] })
      )
    )
    expect(tagging.name).toBe('InvalidInstanceID.NotFound')
    expect((await failure(stateOf(client, instanceId))).name).toBe('InvalidInstanceID.NotFound')
    const allInstances = await client.send(new DescribeInstancesCommand({}))
    expect(allInstances.Reservations ?? []).toEqual([])

    const associating = await failure(
      client.send(
        new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId })
      )
    )
    expect(['InvalidAllocationID.NotFound', 'InvalidInstanceID.NotFound']).toContain(
      associating.name
    )
    expect(
      (await failure(client.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))))
        .name
    ).toBe('InvalidAllocationID.NotFound')

    // Each id's window is recorded, and after it everything is there.
    for (const id of [groupId, instanceId, allocationId]) {
      const moment = proxy.readyMoments.find(m => m.id === id && m.state === 'visible')
      expect(moment && moment.at - moment.requestedAt).toBe(1500)
    }
    await untilPast(Math.max(...proxy.readyMoments.map(m => m.at)))
    const visible = await client.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    expect(visible.SecurityGroups?.[0]?.GroupName).toBe('redis')
    expect((await stateOf(client, instanceId))?.Name).toBe('running')
    await client.send(
      new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId })
    )
    // Every NotFound the SDK saw was injected by the proxy, none came from moto.
    expect(proxy.log.filter(r => r.injected).map(r => r.injected)).toEqual([
      'InvalidGroup.NotFound',
      'InvalidInstanceID.NotFound',
      'InvalidInstanceID.NotFound',
      associating.name,
      'InvalidAllocationID.NotFound'
    ])
    expect(proxy.log.find(r => r.action === 'DescribeInstances' && !r.injected)?.rewritten).toEqual(
      [`${instanceId}:hidden`]
    )
  }, 30_000)

  it('shows pending until the modelled boot ends, then running; shutting-down before terminated', async () => {
    proxy.setRules({ pendingMs: 1500, shuttingDownMs: 1200 })
    const client = once()
    const instanceId = await launch(client)

    expect(await stateOf(client, instanceId)).toEqual({ Code: 0, Name: 'pending' })
    const status = await client.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: true })
    )
    expect(status.InstanceStatuses?.[0]).toMatchObject({
      InstanceState: { Code: 0, Name: 'pending' },
      InstanceStatus: { Status: 'not-applicable' }
    })
    // Without IncludeAllInstances EC2 lists only running instances.
    const runningOnly = await client.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] })
    )
    expect(runningOnly.InstanceStatuses).toEqual([])
    // State filters see the modelled state, not moto's.
    const byState = async (state: string) =>
      (
        await client.send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'instance-state-name', Values: [state] }]
          })
        )
      ).Reservations?.flatMap(r => r.Instances?.map(i => i.InstanceId) ?? []) ?? []
    expect(await byState('running')).toEqual([])
    expect(await byState('pending')).toEqual([instanceId])

    // Polled like a careful waiter would: running shows up at the recorded moment, not before.
    const runningAt = readyAt(instanceId, 'running')
    let seenRunning = 0
    while (!seenRunning) {
      const before = Date.now()
      if ((await stateOf(client, instanceId))?.Name === 'running') seenRunning = before
      else await sleep(50)
    }
    expect(Date.now()).toBeGreaterThanOrEqual(runningAt)
    expect(seenRunning - runningAt).toBeLessThan(1000)
    expect(await byState('running')).toEqual([instanceId])

    const terminate = await client.send(
      new TerminateInstancesCommand({ InstanceIds: [instanceId] })
    )
    expect(terminate.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down')
    expect(await stateOf(client, instanceId)).toEqual({ Code: 32, Name: 'shutting-down' })
    const terminatedAt = readyAt(instanceId, 'terminated')
    expect(
      terminatedAt - (proxy.readyMoments.find(m => m.state === 'terminated')?.requestedAt ?? 0)
    ).toBe(1200)
    await untilPast(terminatedAt)
    expect(await stateOf(client, instanceId)).toEqual({ Code: 48, Name: 'terminated' })
    expect(proxy.log.some(r => r.rewritten?.includes(`${instanceId}:pending`))).toBe(true)
  }, 30_000)

  it('refuses to delete a group in use until its instance is terminated in the timeline', async () => {
    proxy.setRules({ dependencyViolation: true, pendingMs: 200, shuttingDownMs: 1500 })
    const client = once()
    const groupId = (
      await client.send(new CreateSecurityGroupCommand({ GroupName: 'in-use', Description: 'x' }))
    ).GroupId as string
    const instanceId = await launch(client, [groupId])

    const whileRunning = await failure(
      client.send(new DeleteSecurityGroupCommand({ GroupId: groupId }))
    )
    expect(whileRunning.name).toBe('DependencyViolation')
    expect(whileRunning.message).toBe(`resource ${groupId} has a dependent object`)
    const byName = await failure(
      client.send(new DeleteSecurityGroupCommand({ GroupName: 'in-use' }))
    )
    expect(byName.name).toBe('DependencyViolation')

    await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
    // moto has it terminated already; the modelled EC2 is still shutting it down.
    const whileShuttingDown = await failure(
      client.send(new DeleteSecurityGroupCommand({ GroupId: groupId }))
    )
    expect(whileShuttingDown.name).toBe('DependencyViolation')

    await untilPast(readyAt(instanceId, 'terminated'))
    await client.send(new DeleteSecurityGroupCommand({ GroupId: groupId }))
    const gone = await failure(
      client.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    )
    expect(gone.name).toBe('InvalidGroup.NotFound')
    expect(proxy.log.filter(r => r.action === 'DeleteSecurityGroup').map(r => r.status)).toEqual([
      400, 400, 400, 200
    ])
  }, 30_000)

  it('sees the group of an instance launched through NetworkInterfaces (moto files it under none)', async () => {
    proxy.setRules({ dependencyViolation: true, shuttingDownMs: 800 })
    const client = once()
    const subnets = await client.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] })
    )
    const groupId = (
      await client.send(new CreateSecurityGroupCommand({ GroupName: 'via-eni', Description: 'x' }))
    ).GroupId as string
    const run = await client.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.micro',
        NetworkInterfaces: [
          {
            DeviceIndex: 0,
            SubnetId: subnets.Subnets?.[0]?.SubnetId,
            Groups: [groupId],
            DeleteOnTermination: true
          }
        ]
      })
    )
    const instanceId = run.Instances?.[0]?.InstanceId as string
    const deleteGroup = () => client.send(new DeleteSecurityGroupCommand({ GroupId: groupId }))

    expect((await failure(deleteGroup())).name).toBe('DependencyViolation')
    await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
    expect((await failure(deleteGroup())).name).toBe('DependencyViolation')
    await untilPast(readyAt(instanceId, 'terminated'))
    await deleteGroup()
    expect(proxy.log.filter(r => r.action === 'DeleteSecurityGroup').map(r => r.status)).toEqual([
      400, 400, 200
    ])
  }, 30_000)

  it('answers IncorrectInstanceState when an address is associated with a pending instance', async () => {
    proxy.setRules({ pendingMs: 1000, incorrectStateWhilePending: true })
    const client = once()
    const instanceId = await launch(client)
    const allocationId = (await client.send(new AllocateAddressCommand({ Domain: 'vpc' })))
      .AllocationId as string
    const early = await failure(
      client.send(
        new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId })
      )
    )
    expect(early.name).toBe('IncorrectInstanceState')
    await untilPast(readyAt(instanceId, 'running'))
    const late = await client.send(
      new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId })
    )
    expect(late.AssociationId).toMatch(/^eipassoc-/)
  })

  it('fails the k-th call of an action with the given code, and only that call', async () => {
    proxy.setRules({
      faults: [
        { action: 'AssociateAddress', at: 2, error: 'InvalidIPAddress.InUse' },
        { action: 'RunInstances', error: 'InsufficientInstanceCapacity' }
      ]
    })
    const client = once()
    const capacity = await failure(launch(client))
    expect(capacity.name).toBe('InsufficientInstanceCapacity')
    expect(capacity.$metadata).toMatchObject({ httpStatusCode: 500 })
    const instanceId = await launch(client)
    // The failed launch never reached moto: one instance only.
    const all = await client.send(new DescribeInstancesCommand({}))
    expect(all.Reservations?.flatMap(r => r.Instances ?? []).map(i => i.InstanceId)).toEqual([
      instanceId
    ])

    const allocationId = (await client.send(new AllocateAddressCommand({ Domain: 'vpc' })))
      .AllocationId as string
    const associate = () =>
      client.send(
        new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId })
      )
    await associate()
    const inUse = await failure(associate())
    expect(inUse.name).toBe('InvalidIPAddress.InUse')
    expect(inUse.$metadata).toMatchObject({ httpStatusCode: 400 })
    await associate()
    expect(
      proxy.log.filter(r => r.action === 'AssociateAddress').map(r => r.injected ?? r.status)
    ).toEqual([200, 'InvalidIPAddress.InUse', 200])
  })

  it('a 500 InternalError is retried by the SDK; afterForward loses the answer of a call that happened', async () => {
    proxy.setRules({ faults: [{ action: 'DescribeVpcs', error: 'InternalError' }] })
    const retried = await ec2().send(new DescribeVpcsCommand({}))
    expect(retried.$metadata.attempts).toBe(2)
    expect(proxy.log.map(r => [r.injected, r.status])).toEqual([
      ['InternalError', 500],
      [undefined, 200]
    ])

    proxy.setRules({
      faults: [{ action: 'RunInstances', error: 'InternalError', afterForward: true }]
    })
    const client = once()
    expect((await failure(launch(client))).name).toBe('InternalError')
    const launched = await client.send(new DescribeInstancesCommand({}))
    expect(launched.Reservations?.flatMap(r => r.Instances ?? [])).toHaveLength(1)
    expect(proxy.log.at(-2)).toMatchObject({ action: 'RunInstances', forwarded: true, status: 500 })
  })

  it('makes RunInstances idempotent by ClientToken and filterable by client-token, as EC2 is', async () => {
    // The first answer is lost after moto launched; the SDK retries with the same ClientToken.
    proxy.setRules({
      faults: [{ action: 'RunInstances', error: 'InternalError', afterForward: true }]
    })
    const run = (client: EC2Client, token: string, type: 't3.micro' | 't3.small' = 't3.micro') =>
      client.send(
        new RunInstancesCommand({
          ImageId: imageId,
          MinCount: 1,
          MaxCount: 1,
          InstanceType: type,
          ClientToken: token
        })
      )
    const out = await run(ec2(), 'fault-proxy-token-1')
    expect(out.$metadata.attempts).toBe(2)
    const instanceId = out.Instances?.[0]?.InstanceId
    const client = once()
    const all = await client.send(new DescribeInstancesCommand({}))
    expect(all.Reservations?.flatMap(r => r.Instances ?? []).map(i => i.InstanceId)).toEqual([
      instanceId
    ])
    expect(proxy.log.map(r => [r.forwarded, r.injected, r.rewritten])).toEqual([
      [true, 'InternalError', undefined],
      [false, undefined, ['ClientToken fault-proxy-token-1:replayed']],
      [true, undefined, undefined]
    ])
    const mismatch = await failure(run(client, 'fault-proxy-token-1', 't3.small'))
    expect(mismatch.name).toBe('IdempotentParameterMismatch')

    const byToken = async (token: string) =>
      (
        await client.send(
          new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [token] }] })
        )
      ).Reservations?.flatMap(r => r.Instances?.map(i => i.InstanceId) ?? []) ?? []
    expect(await byToken('fault-proxy-token-1')).toEqual([instanceId])
    expect(await byToken('another-token')).toEqual([])
  })

  it('a reset connection surfaces as a retryable network error', async () => {
    proxy.setRules({ faults: [{ action: 'DescribeVpcs', at: [1, 2], resetConnection: true }] })
    const reset = await failure(once().send(new DescribeVpcsCommand({})))
    // Node's 'socket hang up' (code ECONNRESET, renamed TimeoutError by the SDK's HTTP handler).
    // Under jest's VM modules Node's own errors fail `instanceof Error` in the SDK, which then
    // wraps them as "AWS SDK error wrapper for TimeoutError: socket hang up" without the code.
    expect(`${reset.name} ${reset.message} ${String(reset.code)}`).toMatch(
      /TimeoutError|ECONNRESET/
    )
    expect(reset.message).toMatch(/socket hang up/)
    // The SDK's standard retry strategy treats ECONNRESET as transient: the next call goes
    // through the second reset and succeeds on its retry.
    const out = await ec2().send(new DescribeVpcsCommand({}))
    expect(out.$metadata.attempts).toBe(2)
    expect(proxy.log.map(r => [r.injected, r.status])).toEqual([
      ['connection-reset', 0],
      ['connection-reset', 0],
      [undefined, 200]
    ])
  })

  it('passes SSM (JSON protocol) through with latency, and throttles it in its own dialect', async () => {
    const ssm = new SSMClient({
      region: REGION,
      credentials: CREDENTIALS,
      endpoint: proxy.url,
      maxAttempts: 1
    })
    clients.push(ssm)
    await ssm.send(
      new PutParameterCommand({ Name: '/fault-proxy/test', Value: 'v', Type: 'String' })
    )
    proxy.setRules({ latencyMs: { GetParameter: 250 } })
    const started = Date.now()
    const got = await ssm.send(new GetParameterCommand({ Name: '/fault-proxy/test' }))
    expect(got.Parameter?.Value).toBe('v')
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)

    proxy.setRules({ throttleRate: { GetParameter: 1 } })
    const throttled = await failure(
      ssm.send(new GetParameterCommand({ Name: '/fault-proxy/test' }))
    )
    expect(throttled.name).toBe('ThrottlingException')
    expect(proxy.log.map(r => [r.service, r.action, r.injected])).toEqual([
      ['ssm', 'PutParameter', undefined],
      ['ssm', 'GetParameter', undefined],
      ['ssm', 'GetParameter', 'ThrottlingException']
    ])
  })

  it('rejects rules that make no sense', () => {
    expect(() => proxy.setRules({ throttleRate: 1.5 })).toThrow(/throttleRate/)
    expect(() => proxy.setRules({ faults: [{ action: 'RunInstances' }] })).toThrow(
      /needs error or resetConnection/
    )
  })
})

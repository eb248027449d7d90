// The building blocks against EC2 as it really behaves — eventual consistency after creates,
// pending and shutting-down states, DependencyViolation, throttling, capacity errors — which
// the fault proxy (support/fault-proxy.ts) models in front of moto. Also measures how soon a
// wait notices readiness (the action must move on within about half a second on average).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { allocateAddress, associateAddress, releaseAddress } from '../../src/aws/address.js'
import { createAwsClients } from '../../src/aws/client.js'
import {
  clientToken,
  getConsoleOutput,
  launchInstance,
  terminateInstance,
  waitForState,
  type LaunchOptions
} from '../../src/aws/instance.js'
import { Deadline } from '../../src/aws/poll.js'
import {
  applyIngressDiff,
  createSecurityGroup,
  deleteSecurityGroup,
  diffIngress,
  type SecurityGroupInfo
} from '../../src/aws/security-group.js'
import { resourceTags } from '../../src/aws/tags.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { IMAGES } from '../support/moto-images.js'
import { useEnv, type TestVpc } from '../support/moto.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws building blocks under EC2 faults', suite => {
  let proxy: FaultProxy
  let restore: () => void

  beforeAll(async () => {
    proxy = await startFaultProxy({ target: suite.moto.url, seed: 7 })
    restore = useEnv({ AWS_ENDPOINT_URL_EC2: proxy.url, AWS_ENDPOINT_URL_SSM: proxy.url })
  })
  afterAll(async () => {
    restore?.()
    await proxy?.stop()
  })
  beforeEach(() => {
    proxy.setRules({})
    proxy.reset()
  })

  const tags = resourceTags({ deployment: 'it-faults', name: 'openemr-redis' })
  const ec2 = () => createAwsClients(suite.moto.region).ec2
  const readyAt = (id: string, state: string) =>
    proxy.readyMoments.find(m => m.id === id && m.state === state)?.at ?? NaN
  const injected = (code: string) => proxy.counts().injected[code] ?? 0

  // Made before any fault rule is set.
  async function groupIn(vpc: TestVpc): Promise<SecurityGroupInfo> {
    const { group } = await createSecurityGroup(createAwsClients(suite.moto.region).ec2, {
      vpcId: vpc.vpcId,
      name: 'redis',
      description: 'd',
      tags
    })
    return group
  }
  const launchOptions = (vpc: TestVpc, groupId: string): LaunchOptions => ({
    imageId: IMAGES.nobleAmd64.ami_id,
    instanceType: 't3.medium',
    subnets: vpc.publicSubnetIds,
    groupId,
    userData: '#cloud-config\n',
    diskSizeGb: 8,
    tags,
    clientToken: clientToken('it-faults', String(Date.now()), 1),
    associatePublicIp: false,
    rootDeviceName: '/dev/sda1'
  })

  describe('with the proxy', () => {
    it('rides out the NotFound window after every create', async () => {
      const vpc = await suite.moto.createTestVpc({ publicSubnets: 1 })
      proxy.setRules({ notFoundAfterCreateMs: 1200 })
      const deadline = new Deadline(60)
      const client = ec2()
      const { group, created } = await createSecurityGroup(client, {
        vpcId: vpc.vpcId,
        name: 'redis',
        description: 'd',
        tags
      })
      expect(created).toBe(true)
      const diff = diffIngress(group, { port: 6379, clientGroupId: vpc.defaultGroupId })
      await applyIngressDiff(client, group.id, diff, deadline)
      const { instance } = await launchInstance(client, {
        ...launchOptions(vpc, group.id),
        deadline
      })
      await waitForState(client, instance.id, 'running', deadline)
      // Associated at once after allocating: inside the address's NotFound window.
      const address = await allocateAddress(client, tags)
      const { changed } = await associateAddress(
        client,
        address.allocationId,
        instance.id,
        deadline
      )
      expect(changed).toBe(true)
      expect(injected('InvalidGroup.NotFound')).toBeGreaterThan(0)
      expect(injected('InvalidInstanceID.NotFound')).toBeGreaterThan(0)
      expect(injected('InvalidAllocationID.NotFound')).toBeGreaterThan(0)
    }, 60_000)

    it('notices running and terminated within about a second of the moment, half that on average', async () => {
      const vpc = await suite.moto.createTestVpc()
      const group = await groupIn(vpc)
      proxy.setRules({ pendingMs: 1700, shuttingDownMs: 1300 })
      const client = ec2()
      const lags: number[] = []
      for (let i = 0; i < 3; i++) {
        const { instance } = await launchInstance(client, launchOptions(vpc, group.id))
        const running = await waitForState(client, instance.id, 'running', new Deadline(30))
        lags.push(Date.now() - readyAt(instance.id, 'running'))
        expect(running.state).toBe('running')
        await terminateInstance(client, instance.id)
        await waitForState(client, instance.id, 'terminated', new Deadline(30))
        lags.push(Date.now() - readyAt(instance.id, 'terminated'))
      }
      console.log(`readiness noticed after ${lags.join(', ')} ms`)
      // The pause is capped at one second: never more than that (plus a call) late, and about
      // half of it on average. SDK waiters would be 15 s late at worst.
      for (const lag of lags) {
        expect(lag).toBeGreaterThanOrEqual(0)
        expect(lag).toBeLessThan(1500)
      }
      expect(lags.reduce((a, b) => a + b, 0) / lags.length).toBeLessThan(800)
    }, 60_000)

    // The proxy's own dependencyViolation rule cannot be used here: it asks moto for the
    // instances of the group, and moto files the groups of an instance launched through
    // NetworkInterfaces (as launchInstance does) only on its interface. So the answers are
    // injected: DependencyViolation while the interface is being released, then success.
    it('deletes the group once the terminated instance lets go of it', async () => {
      const vpc = await suite.moto.createTestVpc()
      const group = await groupIn(vpc)
      proxy.setRules({
        faults: [{ action: 'DeleteSecurityGroup', at: [1, 2, 3], error: 'DependencyViolation' }]
      })
      const client = ec2()
      const { instance } = await launchInstance(client, launchOptions(vpc, group.id))
      await terminateInstance(client, instance.id)
      expect(
        await deleteSecurityGroup(client, group.id, new Deadline(30), {
          intervalMs: 100,
          maxIntervalMs: 200
        })
      ).toBe(true)
      expect(injected('DependencyViolation')).toBe(3)
      expect(
        proxy.log.filter(r => r.action === 'DeleteSecurityGroup').map(r => r.injected ?? r.status)
      ).toEqual(['DependencyViolation', 'DependencyViolation', 'DependencyViolation', 200])
    }, 60_000)

    it('gives up on DependencyViolation at the deadline, naming what holds the group', async () => {
      const vpc = await suite.moto.createTestVpc()
      const group = await groupIn(vpc)
      proxy.setRules({
        faults: [{ action: 'DeleteSecurityGroup', at: 'every', error: 'DependencyViolation' }]
      })
      const client = ec2()
      const { instance } = await launchInstance(client, launchOptions(vpc, group.id))
      const error = await deleteSecurityGroup(client, group.id, new Deadline(1), {
        intervalMs: 200
      }).catch(e => e)
      expect(error.message).toMatch(/Timed out after 1 s .* deleting security group/)
      expect(error.message).toMatch(new RegExp(`attached to ${instance.id}`))
    }, 30_000)

    it('launches in the next subnet when the first has no capacity', async () => {
      const vpc = await suite.moto.createTestVpc({ publicSubnets: 2 })
      const group = await groupIn(vpc)
      proxy.setRules({
        faults: [{ action: 'RunInstances', error: 'InsufficientInstanceCapacity' }]
      })
      const { subnetId, tried, instance } = await launchInstance(
        ec2(),
        launchOptions(vpc, group.id)
      )
      expect(subnetId).toBe(vpc.publicSubnetIds[1])
      expect(tried.map(t => t.subnetId)).toEqual([vpc.publicSubnetIds[0]])
      expect(tried[0].error).toMatch(/^InsufficientInstanceCapacity/)
      expect(instance.subnetId).toBe(vpc.publicSubnetIds[1])
    }, 30_000)

    it('survives throttling of a third of all calls', async () => {
      const vpc = await suite.moto.createTestVpc()
      proxy.setRules({ throttleRate: 0.33 })
      const client = ec2()
      const deadline = new Deadline(60)
      const { group } = await createSecurityGroup(client, {
        vpcId: vpc.vpcId,
        name: 'redis',
        description: 'd',
        tags
      })
      await applyIngressDiff(
        client,
        group.id,
        diffIngress(group, { port: 6379, clientGroupId: vpc.defaultGroupId }),
        deadline
      )
      const { instance } = await launchInstance(client, launchOptions(vpc, group.id))
      await waitForState(client, instance.id, 'running', deadline)
      const address = await allocateAddress(client, tags)
      await associateAddress(client, address.allocationId, instance.id, deadline)
      expect(await releaseAddress(client, address.allocationId, deadline)).toBe(true)
      expect(injected('RequestLimitExceeded')).toBeGreaterThan(0)
    }, 60_000)

    it('retries a release EC2 still calls in use, and reads console output without Latest', async () => {
      const vpc = await suite.moto.createTestVpc()
      const group = await groupIn(vpc)
      const client = ec2()
      const { instance } = await launchInstance(client, launchOptions(vpc, group.id))
      const address = await allocateAddress(client, tags)
      await associateAddress(client, address.allocationId, instance.id)
      proxy.setRules({
        faults: [
          { action: 'ReleaseAddress', at: [1, 2], error: 'InvalidIPAddress.InUse' },
          { action: 'GetConsoleOutput', error: 'UnsupportedOperation' }
        ]
      })
      expect(await releaseAddress(client, address.allocationId, new Deadline(10))).toBe(true)
      expect(injected('InvalidIPAddress.InUse')).toBe(2)
      expect(await getConsoleOutput(client, instance.id)).toMatch(/Linux/)
    }, 30_000)
  })
})

// Issue scenarios beyond the happy path, each from a clean moto: a VPC that does not exist, a
// hand-made group with world-open rules, the ephemeral-key path, a stopped instance, and a
// failed provisioning with and without cleanup. The bundle runs as users run it (Node 24).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  StopInstancesCommand
} from '@aws-sdk/client-ec2'
import { explodeRules, formatRule } from '../../src/aws/security-group.js'
import { FakeCloud } from '../support/fake-cloud.js'
import { motoUnavailable, startMoto, type Moto, type TestVpc } from '../support/moto.js'
import { runAction } from '../support/run-action.js'
import { testHostPrerequisites } from '../support/test-host.js'

const reason = motoUnavailable() ?? testHostPrerequisites()
const suite = reason ? describe.skip : describe
if (reason) console.warn(`Skipping the apply scenario tests: ${reason}`)

suite('apply scenarios (bundle, moto, real hosts)', () => {
  let moto: Moto
  let vpc: TestVpc
  let cloud: FakeCloud
  let inputs: Record<string, string>

  beforeAll(async () => {
    moto = await startMoto()
  }, 60_000)
  afterAll(async () => {
    await moto?.stop()
  }, 30_000)
  beforeEach(async () => {
    await moto.reset()
    vpc = await moto.createTestVpc({ octet: 32 })
    cloud = new FakeCloud(moto, { prefix: 'scn' })
    cloud.start()
    inputs = {
      'vpc-id': vpc.vpcId,
      'aws-region': moto.region,
      'subnet-id': vpc.publicSubnetId,
      'ssh-via': 'private',
      // The subnet's router address is the runner's; given explicitly because its bridge
      // appears only when the first host boots (the e2e test covers ssh-cidr: auto).
      'ssh-cidr': '10.32.1.1',
      deployment: 'scenario',
      'timeout-seconds': '300'
    }
  }, 60_000)
  afterEach(async () => {
    await cloud?.stop()
  }, 60_000)

  const run = (extra: Record<string, string> = {}) =>
    runAction({ ...inputs, ...extra }, { env: moto.env })

  /** Shows the run's log when it failed, instead of a bare exit code. */
  function expectSuccess(result: { code: number; stdout: string }): void {
    expect(result.code === 0 ? 'exit 0' : result.stdout).toBe('exit 0')
  }

  async function tagged(): Promise<{ instances: string[]; addresses: string[]; groups: string[] }> {
    const filter = [{ Name: 'tag:openemr-redis:deployment', Values: ['scenario'] }]
    const [i, a, g] = await Promise.all([
      moto.ec2.send(new DescribeInstancesCommand({ Filters: filter })),
      moto.ec2.send(new DescribeAddressesCommand({ Filters: filter })),
      moto.ec2.send(new DescribeSecurityGroupsCommand({ Filters: filter }))
    ])
    return {
      instances: (i.Reservations ?? [])
        .flatMap(r => r.Instances ?? [])
        .filter(x => x.State?.Name !== 'terminated')
        .map(x => x.InstanceId ?? ''),
      addresses: (a.Addresses ?? []).map(x => x.AllocationId ?? ''),
      groups: (g.SecurityGroups ?? []).map(x => x.GroupId ?? '')
    }
  }

  async function ingress(groupId: string): Promise<string[]> {
    const answer = await moto.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    return explodeRules(answer.SecurityGroups?.[0]?.IpPermissions ?? [])
      .map(formatRule)
      .sort()
  }

  it('fails clearly for a VPC that does not exist, and creates nothing', async () => {
    const before = await moto.stateSnapshot()
    const result = await run({ 'vpc-id': 'vpc-0123456789abcdef0' })
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/vpc-0123456789abcdef0 does not exist/)
    expect(await moto.stateSnapshot()).toEqual(before)
  }, 60_000)

  it('adopts a hand-made group with world-open rules and corrects it, with an ephemeral key', async () => {
    const made = await moto.ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpc.vpcId,
        GroupName: 'redis',
        Description: 'by hand'
      })
    )
    const groupId = made.GroupId ?? ''
    await moto.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          { IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }
        ]
      })
    )
    const result = await run()
    expect(result.stdout).not.toMatch(/::error::/)
    expectSuccess(result)
    expect(result.outputs['security-group-id']).toBe(groupId)
    expect(result.summary).toContain(`adopted security group ${groupId}`)
    expect(await ingress(groupId)).toEqual([`tcp 6379 from ${vpc.defaultGroupId}`])
    // No key of the ephemeral path is kept anywhere: a re-run needs none, since nothing changed.
    const again = await run()
    expectSuccess(again)
    expect(again.outputs.changed).toBe('false')
  }, 300_000)

  it('starts a stopped instance and converges without SSH', async () => {
    const first = await run()
    expectSuccess(first)
    const id = first.outputs['instance-id']
    await moto.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }))
    const again = await run()
    expectSuccess(again)
    expect(again.outputs['instance-id']).toBe(id)
    expect(again.summary).toContain(`started instance ${id}`)
    expect(again.outputs.changed).toBe('true')
  }, 300_000)

  it('rolls back what the run created when provisioning fails, SSH closed', async () => {
    const result = await run({ 'ssh-user': 'nobody', 'timeout-seconds': '120' })
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/wrong key or ssh-user/)
    expect(result.stdout).toMatch(/Rolled back: deleted instance/)
    expect(await tagged()).toEqual({ instances: [], addresses: [], groups: [] })
  }, 300_000)

  it('keeps what it created with cleanup-on-failure false, and a re-run converges', async () => {
    const failed = await run({ 'ssh-user': 'nobody', 'cleanup-on-failure': 'false' })
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/left for inspection: .*instance i-/)
    const left = await tagged()
    expect(left.instances).toHaveLength(1)
    expect(left.groups).toHaveLength(1)
    for (const g of left.groups) expect((await ingress(g)).filter(r => / 22 /.test(r))).toEqual([])
    // The ephemeral key died with the failed run; the never-provisioned instance is replaced.
    const healthy = await run()
    expectSuccess(healthy)
    expect(healthy.stdout).toContain('Verified a session round trip')
    expect(healthy.summary).toContain(`replaced never-provisioned instance ${left.instances[0]}`)
    const after = await tagged()
    expect(after.instances).toEqual([healthy.outputs['instance-id']])
    expect(after.groups).toEqual(left.groups)
  }, 300_000)
})

// resolveNetwork and resolveSshCidr against moto and a loopback check-IP service.
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import { CreateSecurityGroupCommand } from '@aws-sdk/client-ec2'
import { createAwsClients } from '../../src/aws/client.js'
import { NetworkError, resolveNetwork } from '../../src/aws/network.js'
import { resolveSshCidr } from '../../src/aws/runner-address.js'
import { describeWithMoto } from '../support/moto-suite.js'

describeWithMoto('aws network against moto', suite => {
  const clients = () => createAwsClients(suite.moto.region)

  it('ssh-via public: picks the subnet routed to the internet gateway and the default group', async () => {
    const vpc = await suite.moto.createTestVpc({ publicSubnets: 2, privateSubnets: 1 })
    const resolved = await resolveNetwork(clients().ec2, {
      vpcId: vpc.vpcId,
      subnetId: '',
      sshVia: 'public',
      clientSecurityGroupId: ''
    })
    expect(resolved.vpcCidr).toBe('10.20.0.0/16')
    expect(resolved.clientGroupId).toBe(vpc.defaultGroupId)
    // AZ a before AZ c: deterministic, preferred first.
    expect(resolved.subnets).toEqual([
      { id: vpc.publicSubnetIds[0], az: 'us-east-1a', cidr: '10.20.1.0/24', public: true },
      { id: vpc.publicSubnetIds[1], az: 'us-east-1c', cidr: '10.20.2.0/24', public: true }
    ])
  })

  it('ssh-via private: the private subnet first, then the public ones', async () => {
    const vpc = await suite.moto.createTestVpc()
    const resolved = await resolveNetwork(clients().ec2, {
      vpcId: vpc.vpcId,
      subnetId: '',
      sshVia: 'private',
      clientSecurityGroupId: ''
    })
    expect(resolved.subnets.map(s => [s.id, s.public])).toEqual([
      [vpc.privateSubnetId, false],
      [vpc.publicSubnetId, true]
    ])
  })

  it('finds the Redis group in the same call and accepts a client group of the VPC', async () => {
    const vpc = await suite.moto.createTestVpc()
    const app = await suite.moto.ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpc.vpcId,
        GroupName: 'openemr-app',
        Description: 'app'
      })
    )
    const redis = await suite.moto.ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpc.vpcId, GroupName: 'redis', Description: 'redis' })
    )
    const base = { vpcId: vpc.vpcId, subnetId: '', sshVia: 'public' as const }
    const withDefault = await resolveNetwork(clients().ec2, {
      ...base,
      clientSecurityGroupId: '',
      groupName: 'redis'
    })
    expect(withDefault.clientGroupId).toBe(vpc.defaultGroupId)
    expect(withDefault.group?.id).toBe(redis.GroupId)
    const withApp = await resolveNetwork(clients().ec2, {
      ...base,
      clientSecurityGroupId: app.GroupId ?? '',
      groupName: 'redis'
    })
    expect(withApp.clientGroupId).toBe(app.GroupId)
    expect(withApp.group?.id).toBe(redis.GroupId)
  })

  it('rejects a VPC that does not exist, a subnet and a client group of another VPC', async () => {
    const vpc = await suite.moto.createTestVpc({ octet: 20 })
    const other = await suite.moto.createTestVpc({ octet: 30 })
    const { ec2 } = clients()
    const base = {
      vpcId: vpc.vpcId,
      subnetId: '',
      sshVia: 'public' as const,
      clientSecurityGroupId: ''
    }
    const missing = await resolveNetwork(ec2, { ...base, vpcId: 'vpc-0a1b2c3d4e5f67890' }).catch(
      e => e
    )
    expect(missing).toBeInstanceOf(NetworkError)
    expect(missing.message).toMatch(
      'vpc-0a1b2c3d4e5f67890 does not exist in us-east-1 or the credentials cannot see it'
    )
    await expect(resolveNetwork(ec2, { ...base, subnetId: other.publicSubnetId })).rejects.toThrow(
      `belongs to ${other.vpcId}, not to vpc-id ${vpc.vpcId}`
    )
    await expect(
      resolveNetwork(ec2, { ...base, subnetId: 'subnet-0a1b2c3d4e5f67890' })
    ).rejects.toThrow('subnet-id subnet-0a1b2c3d4e5f67890 does not exist in us-east-1')
    await expect(
      resolveNetwork(ec2, { ...base, clientSecurityGroupId: other.defaultGroupId })
    ).rejects.toThrow(`belongs to ${other.vpcId}, not ${vpc.vpcId}`)
    await expect(resolveNetwork(ec2, { ...base, subnetId: vpc.privateSubnetId })).rejects.toThrow(
      /has no route 0.0.0.0\/0 to an internet gateway/
    )
  })

  it('ssh-via public in a VPC without an internet route: a clear error', async () => {
    const vpc = await suite.moto.createTestVpc({ publicSubnets: 0, privateSubnets: 2 })
    await expect(
      resolveNetwork(clients().ec2, {
        vpcId: vpc.vpcId,
        subnetId: '',
        sshVia: 'public',
        clientSecurityGroupId: ''
      })
    ).rejects.toThrow(/no subnet whose route table sends 0.0.0.0\/0 to an internet gateway/)
  })
})

// The check-IP service on loopback, reached through the documented override.
let checkip: Server
let checkipUrl = ''
let answer: { status: number; body: string; hang?: boolean } = { status: 200, body: '' }

beforeAll(async () => {
  checkip = createServer((_request, response) => {
    if (answer.hang) return
    response.writeHead(answer.status, { 'content-type': 'text/plain' })
    response.end(answer.body)
  })
  await new Promise<void>(resolve => checkip.listen(0, '127.0.0.1', resolve))
  const address = checkip.address()
  checkipUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`
})

afterAll(async () => {
  checkip.closeAllConnections()
  await new Promise(resolve => checkip.close(resolve))
})

it('resolveSshCidr asks the check-IP service over real HTTP', async () => {
  answer = { status: 200, body: '203.0.113.77\n' }
  const env = { OPENEMR_REDIS_CHECKIP_URL: checkipUrl }
  expect(await resolveSshCidr('auto', { sshVia: 'public', vpcCidr: '10.0.0.0/16', env })).toBe(
    '203.0.113.77/32'
  )
})

it('resolveSshCidr gives up on a silent service within its timeout, with the fix', async () => {
  answer = { status: 200, body: '', hang: true }
  const env = { OPENEMR_REDIS_CHECKIP_URL: checkipUrl }
  const started = Date.now()
  const error = await resolveSshCidr('auto', {
    sshVia: 'public',
    vpcCidr: '10.0.0.0/16',
    env,
    timeoutMs: 300
  }).catch(e => e)
  expect(Date.now() - started).toBeLessThan(2000)
  expect(error.message).toMatch(/no answer within 0.3 s\). Set ssh-cidr/)
})

it('resolveSshCidr reports a refused connection', async () => {
  const env = { OPENEMR_REDIS_CHECKIP_URL: 'http://127.0.0.1:1/' }
  await expect(
    resolveSshCidr('auto', { sshVia: 'public', vpcCidr: '10.0.0.0/16', env })
  ).rejects.toThrow(/Could not learn the runner's public address from http:\/\/127.0.0.1:1\//)
})

import { describe, expect, it } from '@jest/globals'
import { InputError, readSettings, type InputProblem } from '../src/inputs.js'
import { BAD_INPUTS as BAD, VALID_INPUTS as VALID } from './support/bad-inputs.js'
import { rsaPrivateKeyPem } from './support/keys.js'

function problems(inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}): InputProblem[] {
  try {
    readSettings(name => inputs[name] ?? '', env)
  } catch (error) {
    if (error instanceof InputError) return error.problems
    throw error
  }
  return []
}

describe('readSettings defaults', () => {
  it('applies every documented default', () => {
    const s = readSettings(name => VALID[name] ?? '', {})
    expect(s).toMatchObject({
      mode: 'apply',
      region: 'us-east-1',
      vpcId: 'vpc-0a1b2c3d4e5f67890',
      subnetId: '',
      instanceType: 't3.medium',
      diskSizeGb: 8,
      amiId: '',
      keyName: '',
      sshUser: 'ubuntu',
      sshVia: 'public',
      sshCidr: 'auto',
      securityGroupName: 'redis',
      instanceName: 'openemr-redis',
      clientSecurityGroupId: '',
      elasticIp: 'keep',
      redisPort: 6379,
      redisPassword: '',
      redisMaxmemory: 'auto',
      deployment: 'openemr-redis',
      tags: {},
      cleanupOnFailure: true,
      timeoutSeconds: 900,
      config: undefined
    })
  })

  it('takes the region from AWS_REGION, then AWS_DEFAULT_REGION', () => {
    const read = (name: string) => (name === 'vpc-id' ? VALID['vpc-id'] : '')
    expect(readSettings(read, { AWS_REGION: 'eu-west-2' }).region).toBe('eu-west-2')
    expect(readSettings(read, { AWS_DEFAULT_REGION: 'ap-south-1' }).region).toBe('ap-south-1')
  })

  it('parses every optional input when given', () => {
    const key = rsaPrivateKeyPem()
    const s = readSettings(
      name =>
        ({
          ...VALID,
          mode: 'PLAN',
          'subnet-id': 'subnet-0123456789abcdef0',
          'instance-type': 't2.medium',
          'disk-size-gb': '20',
          'ami-id': 'ami-12345678',
          'key-name': 'ops',
          'ssh-private-key': key,
          'ssh-via': 'private',
          'ssh-cidr': '203.0.113.7',
          'client-security-group-id': 'sg-12345678',
          'elastic-ip': 'release',
          'redis-port': '6380',
          'redis-password': 'a'.repeat(32),
          'redis-maxmemory': '2gb',
          tags: 'team=clinic-it\n# comment\n\ncost-center = 42\n',
          'cleanup-on-failure': 'false',
          'timeout-seconds': '1200',
          'config-repository': 'openemr/openemr',
          'config-branch': 'refs/heads/deploy/redis',
          'github-token': 'ghs_example',
          'pull-request': 'true'
        })[name] ?? '',
      {}
    )
    expect(s).toMatchObject({
      mode: 'plan',
      instanceType: 't2.medium',
      diskSizeGb: 20,
      sshVia: 'private',
      sshCidr: '203.0.113.7/32',
      elasticIp: 'release',
      redisPort: 6380,
      redisMaxmemory: 2 * 1024 ** 3,
      tags: { team: 'clinic-it', 'cost-center': '42' },
      cleanupOnFailure: false,
      timeoutSeconds: 1200,
      config: {
        owner: 'openemr',
        repo: 'openemr',
        path: 'openemr/.ebextensions/06-redis-configuration.config',
        branch: 'deploy/redis',
        pullRequest: true
      }
    })
  })
})

describe('readSettings rejects bad input', () => {
  it.each(BAD)('%s', (_name, bad, input, message) => {
    const found = problems({ ...VALID, ...bad })
    const mine = found.filter(p => p.input === input)
    expect(mine).toHaveLength(1)
    expect(mine[0].message).toMatch(message)
  })

  it('has at least 30 cases', () => {
    expect(BAD.length).toBeGreaterThanOrEqual(30)
  })

  it('reports every problem at once', () => {
    const found = problems({ 'vpc-id': 'nope', 'redis-port': '1', mode: 'x' })
    expect(found.map(p => p.input).sort()).toEqual(['aws-region', 'mode', 'redis-port', 'vpc-id'])
  })

  it('never echoes a secret value', () => {
    const password = 'abcdefgh&ijklmnop#q-secret'
    const key = 'not-a-key-but-secret-material'
    const found = problems({
      ...VALID,
      'redis-password': password,
      'key-name': 'ops',
      'ssh-private-key': key,
      'config-repository': 'bad'
    })
    const text = JSON.stringify(found)
    expect(found.length).toBeGreaterThanOrEqual(3)
    expect(text).not.toContain(password)
    expect(text).not.toContain(key)
  })
})

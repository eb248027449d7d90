import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as core from '../__fixtures__/core.js'
import { readSettings } from '../src/inputs.js'

jest.unstable_mockModule('@actions/core', () => core)
const { renderSummary, reportResult, setOutputs } = await import('../src/report.js')
const { createRunContext } = await import('../src/modes/context.js')

function context(extra: Record<string, string> = {}) {
  const inputs: Record<string, string> = {
    'vpc-id': 'vpc-12345678',
    'aws-region': 'eu-west-2',
    ...extra
  }
  return createRunContext(readSettings(n => inputs[n] ?? '', {}))
}

const result = {
  instanceId: 'i-0123456789abcdef0',
  privateIp: '10.0.1.4',
  securityGroupId: 'sg-12345678',
  publicIp: '198.51.100.7',
  allocationId: 'eipalloc-12345678',
  configCommitSha: 'abc123',
  pullRequestUrl: '',
  warnings: []
}

beforeEach(() => core.reset())

describe('report', () => {
  it('sets every output of action.yml, endpoint forms included', () => {
    const ctx = context({ 'redis-port': '6380' })
    ctx.changes.push('launched instance')
    setOutputs(ctx, result)
    expect(core.outputs).toEqual({
      'private-ip': '10.0.1.4',
      'instance-id': 'i-0123456789abcdef0',
      'security-group-id': 'sg-12345678',
      'public-ip': '198.51.100.7',
      'allocation-id': 'eipalloc-12345678',
      'redis-endpoint': '10.0.1.4:6380',
      'session-save-path': 'tcp://10.0.1.4:6380',
      'config-commit-sha': 'abc123',
      'pull-request-url': '',
      changed: 'true'
    })
  })

  it('says changed=false and leaves endpoints empty when there is no instance', () => {
    const ctx = context()
    setOutputs(ctx, { ...result, instanceId: '', privateIp: '' })
    expect(core.outputs).toMatchObject({
      changed: 'false',
      'redis-endpoint': '',
      'session-save-path': ''
    })
  })

  it('links each resource to the console of its region and lists phases and calls', () => {
    const ctx = context()
    ctx.phases.push({ phase: 'instance', seconds: 12.34 })
    ctx.calls.push('DescribeVpcs', 'RunInstances')
    const text = renderSummary(ctx, { ...result, warnings: ['legacy hook path'] }, 'Title')
    expect(text).toContain(
      'https://eu-west-2.console.aws.amazon.com/ec2/home?region=eu-west-2#InstanceDetails:instanceId=i-0123456789abcdef0'
    )
    expect(text).toContain('#SecurityGroup:groupId=sg-12345678')
    expect(text).toContain('| instance | 12.3 |')
    expect(text).toContain('AWS API calls: 2 (1 mutating)')
    expect(text).toContain('- legacy hook path')
    expect(text).toContain('### Nothing changed')
  })

  it('tells how app servers get a password that never goes into the repository', async () => {
    const ctx = context({
      'redis-password': 'x'.repeat(24),
      'config-repository': 'openemr/openemr',
      'github-token': 't'
    })
    await reportResult(ctx, result, 'Title')
    const text = core.logs.join('\n')
    expect(text).toMatch(/never written to openemr\/\.ebextensions\/06-redis-configuration\.config/)
    expect(text).toContain('tcp://10.0.1.4:6379?auth=<password>')
    expect(text).not.toContain('x'.repeat(24))
  })

  it('adds no password note and no empty table when there is no instance (destroy)', async () => {
    const ctx = context({
      'redis-password': 'x'.repeat(24),
      'config-repository': 'openemr/openemr',
      'github-token': 't'
    })
    const none = {
      instanceId: '',
      privateIp: '',
      securityGroupId: '',
      publicIp: '',
      allocationId: ''
    }
    await reportResult(ctx, { ...result, ...none, configCommitSha: '' }, 'Destroyed')
    const text = core.logs.join('\n')
    expect(text).not.toMatch(/auth=|\| resource \| value \|/)
  })
})

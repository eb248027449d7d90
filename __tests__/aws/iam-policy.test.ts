// The least-privilege policy must name every action src/aws can send — and nothing more.
// (The integration test aws-iam-policy.test.ts checks the same from the calls actually made.)
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { isMutating } from '../../src/aws/client.js'
import { loadIamPolicy, missingFromPolicy, policyAllows } from '../support/aws-recorder.js'

const SRC = new URL('../../src/aws/', import.meta.url)
const SERVICES: Record<string, string> = {
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-ssm': 'ssm'
}

/** ec2:RunInstances, … for every command class or paginator src/aws imports from the SDK. */
function actionsInSource(): string[] {
  const actions = new Set<string>()
  for (const file of readdirSync(SRC).filter(f => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(file, SRC), 'utf8')
    for (const m of text.matchAll(/import\s*{([^}]*)}\s*from\s*'(@aws-sdk\/client-[a-z0-9]+)'/g)) {
      const service = SERVICES[m[2]]
      for (const raw of m[1].split(',')) {
        const name = raw.trim()
        const command = /^([A-Z][A-Za-z0-9]+)Command$/.exec(name)
        const paginator = /^paginate([A-Z][A-Za-z0-9]+)$/.exec(name)
        const action = command?.[1] ?? paginator?.[1]
        if (action) actions.add(`${service}:${action}`)
      }
    }
  }
  return [...actions].sort()
}

const policy = loadIamPolicy()
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v])
const policyActions = [...new Set(policy.Statement.flatMap(s => list(s.Action)))].sort()

describe('iam-policy.json', () => {
  it('is a policy document whose statement ids say what each grants', () => {
    expect(policy.Version).toBe('2012-10-17')
    const sids = policy.Statement.map(s => s.Sid ?? '')
    for (const sid of sids) expect(sid).toMatch(/^[A-Za-z0-9]{12,}$/)
    expect(new Set(sids).size).toBe(sids.length)
    expect(policy.Statement.every(s => s.Effect === 'Allow')).toBe(true)
  })

  it('allows every action src/aws can call', () => {
    const used = actionsInSource()
    expect(used.length).toBeGreaterThan(15)
    expect(missingFromPolicy(used)).toEqual([])
  })

  it('allows nothing src/aws does not call', () => {
    expect(policyActions).toEqual(actionsInSource())
  })

  it('names every action without wildcards', () => {
    expect(policyActions.filter(a => a.includes('*'))).toEqual([])
  })

  it('lets every mutating action run only with a tag condition, or in a create call on a VPC', () => {
    for (const statement of policy.Statement) {
      const mutating = list(statement.Action).filter(a => isMutating(a.split(':')[1]))
      if (mutating.length === 0) continue
      const resources = list(statement.Resource)
      expect(resources).not.toContain('*')
      const conditioned = JSON.stringify(statement.Condition ?? {})
      const onlyReadsSupportingResources = resources.every(r =>
        /:(vpc|image|snapshot|key-pair|subnet|network-interface)\/\*$/.test(r)
      )
      if (!onlyReadsSupportingResources)
        expect(conditioned).toMatch(/aws:(Resource|Request)Tag\/openemr-redis:|ec2:CreateAction/)
    }
  })

  it('restricts SSM to the public Canonical Ubuntu parameters', () => {
    const ssm = policy.Statement.filter(s => list(s.Action).some(a => a.startsWith('ssm:')))
    expect(ssm.flatMap(s => list(s.Resource))).toEqual([
      'arn:aws:ssm:*::parameter/aws/service/canonical/ubuntu/server/*'
    ])
  })
})

describe('policyAllows', () => {
  it('matches names case-insensitively and with wildcards', () => {
    const p = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow' as const, Action: ['ec2:Describe*', 'ssm:getparameter'], Resource: '*' }
      ]
    }
    expect(policyAllows(p, 'ec2:DescribeVpcs')).toBe(true)
    expect(policyAllows(p, 'ssm:GetParameter')).toBe(true)
    expect(policyAllows(p, 'ec2:RunInstances')).toBe(false)
    expect(policyAllows(p, 'ssm:GetParameters')).toBe(false)
  })
})

// Records every AWS action the code under test sends (through createAwsClients' onCall), so
// integration tests can count calls, assert "no mutating call", and check the least-privilege
// policy in iam-policy.json covers everything that was actually called.
import { readFileSync } from 'node:fs'
import { isMutating, type AwsService } from '../../src/aws/client.js'

export interface RecordedCall {
  service: AwsService
  action: string
}

export class AwsRecorder {
  readonly calls: RecordedCall[] = []

  /** Pass as createAwsClients(region, { onCall: recorder.onCall }). */
  readonly onCall = (service: AwsService, action: string): void => {
    this.calls.push({ service, action })
  }

  /** Distinct IAM action names, like ec2:DescribeInstances, sorted. */
  iamActions(): string[] {
    return [...new Set(this.calls.map(c => `${c.service}:${c.action}`))].sort()
  }

  mutating(): RecordedCall[] {
    return this.calls.filter(c => isMutating(c.action))
  }

  count(service?: AwsService): number {
    return service ? this.calls.filter(c => c.service === service).length : this.calls.length
  }

  /** "3 ec2:DescribeInstances, 1 ec2:RunInstances" — for measurements and failure messages. */
  summary(): string {
    const counts = new Map<string, number>()
    for (const c of this.calls) {
      const key = `${c.service}:${c.action}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return [...counts].map(([k, n]) => `${n} ${k}`).join(', ')
  }

  reset(): void {
    this.calls.length = 0
  }
}

interface PolicyStatement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action: string | string[]
  Resource: string | string[]
  Condition?: Record<string, Record<string, string | string[]>>
}

export interface IamPolicy {
  Version: string
  Statement: PolicyStatement[]
}

export const IAM_POLICY_PATH = new URL('../../iam-policy.json', import.meta.url)

export function loadIamPolicy(): IamPolicy {
  return JSON.parse(readFileSync(IAM_POLICY_PATH, 'utf8')) as IamPolicy
}

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v])

function matches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    '^' +
      pattern
        .split('*')
        .map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
    'i'
  )
  return regex.test(action)
}

/**
 * Whether some Allow statement names the action (IAM matches action names case-insensitively,
 * with * wildcards). Conditions and resources are not evaluated: this proves the policy does
 * not forget an action, not that a given request would pass.
 */
export function policyAllows(policy: IamPolicy, iamAction: string): boolean {
  return policy.Statement.some(
    s => s.Effect === 'Allow' && list(s.Action).some(p => matches(p, iamAction))
  )
}

/** The recorded IAM actions the policy does not allow; [] when it covers them all. */
export function missingFromPolicy(
  actions: string[] | AwsRecorder,
  policy: IamPolicy = loadIamPolicy()
): string[] {
  const names = Array.isArray(actions) ? actions : actions.iamActions()
  return names.filter(a => !policyAllows(policy, a))
}

// The EC2 behaviours moto lacks, applied around one forwarded call: eventual consistency after
// creates, transitional instance states, DependencyViolation, IncorrectInstanceState, and two
// moto bugs corrected: RunInstances' ClientToken is idempotent, and DescribeInstances can be
// filtered by client-token (moto answers HTTP 500).
import { injectedError, type InjectedError } from './fault-proxy-errors.js'
import { namedIds, notFoundCode } from './fault-proxy-ids.js'
import { takeFilters, type Filter } from './fault-proxy-request.js'
import type { FaultRules } from './fault-proxy-rules.js'
import {
  createdIds,
  describedInstances,
  fixRepeatedTermination,
  rewriteDescribe,
  stateChanges,
  type ModelView
} from './fault-proxy-shapes.js'
import { STATE_CODES, Timeline, type InstanceStateName } from './fault-proxy-timeline.js'

const STATE_FILTERS = ['instance-state-name', 'instance-state-code']
const INSTANCE_FILTERS = [...STATE_FILTERS, 'client-token']
const CREATES = new Set(['RunInstances', 'CreateSecurityGroup', 'AllocateAddress'])

/** Asks moto an EC2 query (with the caller's credentials, so the same account and region). */
export type Lookup = (params: URLSearchParams) => Promise<string>

export interface Prepared {
  /** Answer with this instead of forwarding. */
  error?: InjectedError
  /** Answer with this 200 body instead of forwarding (a repeated RunInstances ClientToken). */
  replay?: string
  /** The parameters to forward (instance filters taken out; the proxy applies them itself). */
  params: URLSearchParams
  /** instance-state-name / -code and client-token filters, applied to the rewritten answer. */
  instanceFilters: Filter[]
}

interface Launch {
  request: string
  answer: string
}

export class Ec2Model {
  // RunInstances answers by ClientToken, as EC2 keeps them to make a retried launch idempotent.
  private readonly launches = new Map<string, Launch>()
  // The groups each instance was launched with, read from RunInstances itself: moto files an
  // instance launched through NetworkInterfaces under no instance.group-id (see moto.ts).
  private readonly launchGroups = new Map<string, string[]>()

  constructor(readonly timeline: Timeline) {}

  clear(): void {
    this.timeline.clear()
    this.launches.clear()
    this.launchGroups.clear()
  }

  async before(
    action: string,
    params: URLSearchParams,
    rules: FaultRules,
    lookup: Lookup
  ): Promise<Prepared> {
    const unchanged: Prepared = { params, instanceFilters: [] }
    // Naming an id EC2 does not know yet fails; as a Describe* filter value it only finds nothing.
    const invisible = namedIds(params).direct.find(id => this.timeline.hidden(id))
    if (invisible) {
      return { ...unchanged, error: injectedError(notFoundCode(invisible), { subject: invisible }) }
    }
    if (rules.incorrectStateWhilePending && action === 'AssociateAddress') {
      const instance = params.get('InstanceId')
      if (instance && this.timeline.transitional(instance) === 'pending') {
        return {
          ...unchanged,
          error: injectedError('IncorrectInstanceState', { subject: instance })
        }
      }
    }
    if (rules.dependencyViolation && action === 'DeleteSecurityGroup') {
      const error = await this.dependencyViolation(params, lookup)
      if (error) return { ...unchanged, error }
    }
    if (action === 'RunInstances' && rules.clientTokenIdempotency !== false) {
      const earlier = this.launches.get(params.get('ClientToken') ?? '')
      if (earlier && earlier.request !== canonical(params)) {
        return { ...unchanged, error: injectedError('IdempotentParameterMismatch') }
      }
      if (earlier) return { ...unchanged, replay: earlier.answer }
    }
    if (action === 'DescribeInstances' || action === 'DescribeInstanceStatus') {
      const names = action === 'DescribeInstances' ? INSTANCE_FILTERS : STATE_FILTERS
      const { params: rest, taken } = takeFilters(params, names)
      return { params: rest, instanceFilters: taken }
    }
    return unchanged
  }

  after(
    action: string,
    prepared: Prepared,
    xml: string,
    rules: FaultRules
  ): { xml: string; notes: string[] } {
    const pendingMs = rules.pendingMs ?? 0
    if (CREATES.has(action)) {
      for (const id of createdIds(action, xml)) {
        this.timeline.created(id, rules.notFoundAfterCreateMs ?? 0)
        if (action === 'RunInstances') {
          this.timeline.begin(id, 'pending', pendingMs)
          this.launchGroups.set(id, launchedGroups(prepared.params))
        }
      }
      const token = prepared.params.get('ClientToken')
      if (action === 'RunInstances' && token) {
        this.launches.set(token, { request: canonical(prepared.params), answer: xml })
      }
      return { xml, notes: [] }
    }
    if (action === 'StartInstances' || action === 'StopInstances') {
      for (const c of stateChanges(xml)) {
        if (c.current === 'pending') this.timeline.begin(c.id, 'pending', pendingMs)
        if (c.current === 'stopping') {
          this.timeline.begin(c.id, 'stopping', rules.stoppingMs ?? pendingMs)
        }
      }
      return { xml, notes: [] }
    }
    if (action === 'TerminateInstances') {
      for (const c of stateChanges(xml)) {
        if (c.previous === 'terminated') continue
        this.timeline.begin(c.id, 'shutting-down', rules.shuttingDownMs ?? pendingMs)
      }
      return { xml: fixRepeatedTermination(xml), notes: [] }
    }
    if (action.startsWith('Describe')) {
      return rewriteDescribe(action, xml, this.view(prepared))
    }
    return { xml, notes: [] }
  }

  private view(prepared: Prepared): ModelView {
    const { timeline } = this
    return {
      hidden: id => timeline.hidden(id),
      transitional: id => timeline.transitional(id),
      keepState: state =>
        prepared.instanceFilters
          .filter(f => f.name !== 'client-token')
          .every(f => matchesState(f, state)),
      keepClientToken: token =>
        prepared.instanceFilters
          .filter(f => f.name === 'client-token')
          .every(f => f.values.includes(token)),
      onlyRunning: prepared.params.get('IncludeAllInstances') !== 'true'
    }
  }

  // EC2 refuses to delete a group an instance still uses, until that instance is terminated;
  // moto deletes it at once. Which instances use the group is asked of moto itself.
  private async dependencyViolation(
    params: URLSearchParams,
    lookup: Lookup
  ): Promise<InjectedError | undefined> {
    const groupId = params.get('GroupId')
    const groupName = params.get('GroupName')
    if (!groupId && !groupName) return undefined
    const query = new URLSearchParams({
      Action: 'DescribeInstances',
      Version: params.get('Version') ?? '2016-11-15',
      'Filter.1.Name': groupId ? 'instance.group-id' : 'instance.group-name',
      'Filter.1.Value.1': (groupId ?? groupName) as string
    })
    const instances = describedInstances(await lookup(query))
    const launchedInGroup = [...this.launchGroups]
      .filter(([, groups]) => groupId !== null && groups.includes(groupId))
      .map(([id]) => id)
    if (launchedInGroup.length > 0) {
      const byId = new URLSearchParams({
        Action: 'DescribeInstances',
        Version: params.get('Version') ?? '2016-11-15'
      })
      launchedInGroup.forEach((id, i) => byId.set(`InstanceId.${i + 1}`, id))
      instances.push(...describedInstances(await lookup(byId)))
    }
    const using = instances.find(
      i => (this.timeline.transitional(i.id) ?? i.state) !== 'terminated'
    )
    if (!using) return undefined
    return injectedError('DependencyViolation', { subject: groupId ?? groupName ?? '' })
  }
}

/** SecurityGroupId.N and NetworkInterface.N.SecurityGroupId.M of a RunInstances call. */
function launchedGroups(params: URLSearchParams): string[] {
  const groups: string[] = []
  for (const [key, value] of params)
    if (/^(?:NetworkInterface\.\d+\.)?SecurityGroupId\.\d+$/.test(key)) groups.push(value)
  return [...new Set(groups)]
}

const canonical = (params: URLSearchParams): string =>
  [...params]
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('&')

function matchesState(filter: Filter, state: InstanceStateName): boolean {
  const wanted = filter.name === 'instance-state-code' ? String(STATE_CODES[state]) : state
  return filter.values.includes(wanted)
}

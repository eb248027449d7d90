// Reading and rewriting moto's EC2 responses. The shapes relied on (moto 5, EC2 API 2016-11-15;
// root element names vary, namespaces are ignored):
//
//   RunInstancesResponse > instancesSet > item > instanceId, instanceState > code, name
//   {Start,Stop,Terminate}InstancesResponse > instancesSet > item
//       > instanceId, currentState > code, name, previousState > code, name
//   CreateSecurityGroupResponse > groupId
//   AllocateAddressResponse > allocationId
//   DescribeInstancesResponse > reservationSet > item > instancesSet > item
//       > instanceId, instanceState > code, name, clientToken
//   DescribeInstanceStatusResponse > instanceStatusSet > item
//       > instanceId, instanceState > code, name, instanceStatus, systemStatus
//   DescribeSecurityGroupsResponse > securityGroupInfo > item > groupId
//   DescribeAddressesResponse > addressesSet > item > allocationId
//
// Only direct children are matched, so the groupId of a referenced group inside a rule, or the
// instanceId inside an address's association, is never mistaken for the item's own id.
import { STATE_CODES } from './fault-proxy-timeline.js'
import type { InstanceStateName, Transitional } from './fault-proxy-timeline.js'
import {
  applyEdits,
  child,
  children,
  childText,
  remove,
  replaceInner,
  select,
  type XmlEdit,
  type XmlElement
} from './fault-proxy-xml.js'

/** Ids a successful create call made, read from moto's answer. */
export function createdIds(action: string, xml: string): string[] {
  switch (action) {
    case 'RunInstances':
      return select(xml, ['*', 'instancesSet', 'item']).flatMap(item =>
        present(childText(xml, item, 'instanceId'))
      )
    case 'CreateSecurityGroup':
      return present(textAt(xml, ['*', 'groupId']))
    case 'AllocateAddress':
      return present(textAt(xml, ['*', 'allocationId']))
    default:
      return []
  }
}

export interface StateChange {
  id: string
  current: string
  previous: string
}

/** The instancesSet of a Start/Stop/TerminateInstances answer. */
export function stateChanges(xml: string): StateChange[] {
  return select(xml, ['*', 'instancesSet', 'item']).map(item => ({
    id: childText(xml, item, 'instanceId') ?? '',
    current: stateName(xml, item, 'currentState') ?? '',
    previous: stateName(xml, item, 'previousState') ?? ''
  }))
}

/**
 * Terminating an instance that is already terminated: EC2 answers currentState terminated,
 * moto answers shutting-down (as if it started over). Say what EC2 says.
 */
export function fixRepeatedTermination(xml: string): string {
  const edits = select(xml, ['*', 'instancesSet', 'item']).flatMap(item => {
    const current = child(xml, item, 'currentState')
    if (!current || stateName(xml, item, 'previousState') !== 'terminated') return []
    return [replaceInner(current, stateXml('terminated'))]
  })
  return edits.length ? applyEdits(xml, edits) : xml
}

/** Instances (id and moto's state name) in a DescribeInstances answer. */
export function describedInstances(xml: string): { id: string; state: string }[] {
  return select(xml, ['*', 'reservationSet', 'item', 'instancesSet', 'item']).map(item => ({
    id: childText(xml, item, 'instanceId') ?? '',
    state: stateName(xml, item, 'instanceState') ?? ''
  }))
}

/** What the modelled EC2 says about resources, asked while rewriting a Describe* answer. */
export interface ModelView {
  /** Inside its eventual-consistency window: leave it out. */
  hidden(id: string): boolean
  /** Still in a transitional state: show that instead of moto's. */
  transitional(id: string): Transitional | undefined
  /** State filters the proxy took out of the request (it applies them after rewriting). */
  keepState(state: InstanceStateName): boolean
  /** The client-token filter, which moto cannot apply (it answers HTTP 500). */
  keepClientToken(token: string): boolean
  /** DescribeInstanceStatus without IncludeAllInstances lists only running instances. */
  onlyRunning: boolean
}

export interface Rewrite {
  xml: string
  /**
   * What changed, e.g. 'i-0abc:pending' (state shown instead of moto's), 'sg-0abc:hidden' (left
   * out: not visible yet), 'i-0abc:pending:filtered' (left out by a state filter or because
   * DescribeInstanceStatus lists only running instances); empty when nothing did.
   */
  notes: string[]
}

const ID_LISTS: Record<string, { path: string[]; id: string }> = {
  DescribeSecurityGroups: { path: ['*', 'securityGroupInfo', 'item'], id: 'groupId' },
  DescribeAddresses: { path: ['*', 'addressesSet', 'item'], id: 'allocationId' }
}

export function rewriteDescribe(action: string, xml: string, view: ModelView): Rewrite {
  if (action === 'DescribeInstances') return rewriteInstances(xml, view)
  if (action === 'DescribeInstanceStatus') return rewriteInstanceStatus(xml, view)
  const list = ID_LISTS[action]
  if (!list) return { xml, notes: [] }
  const notes: string[] = []
  const edits = select(xml, list.path).flatMap(item => {
    const id = childText(xml, item, list.id)
    if (!id || !view.hidden(id)) return []
    notes.push(`${id}:hidden`)
    return [remove(item)]
  })
  return { xml: applyEdits(xml, edits), notes }
}

type ItemVerdict = { drop: true; note: string } | { drop: false; state?: InstanceStateName }

function judgeInstance(xml: string, item: XmlElement, view: ModelView): ItemVerdict {
  const id = childText(xml, item, 'instanceId') ?? ''
  if (view.hidden(id)) return { drop: true, note: `${id}:hidden` }
  const shown = view.transitional(id)
  const state = shown ?? (stateName(xml, item, 'instanceState') as InstanceStateName)
  if (!view.keepClientToken(childText(xml, item, 'clientToken') ?? ''))
    return { drop: true, note: '' }
  // Filtering on moto's own state is what moto would have done: not worth a note.
  if (!view.keepState(state)) return { drop: true, note: shown ? `${id}:${state}:filtered` : '' }
  return { drop: false, state: shown }
}

function rewriteInstances(xml: string, view: ModelView): Rewrite {
  const notes: string[] = []
  const edits: XmlEdit[] = []
  for (const reservation of select(xml, ['*', 'reservationSet', 'item'])) {
    const set = child(xml, reservation, 'instancesSet')
    const items = set ? children(xml, set).filter(c => c.name === 'item') : []
    let kept = 0
    for (const item of items) {
      const verdict = judgeInstance(xml, item, view)
      if (verdict.drop) {
        notes.push(verdict.note)
        edits.push(remove(item))
        continue
      }
      kept++
      if (verdict.state) {
        notes.push(`${childText(xml, item, 'instanceId')}:${verdict.state}`)
        edits.push(setState(xml, item, 'instanceState', verdict.state))
      }
    }
    // A reservation whose every instance is left out is not listed at all.
    if (items.length > 0 && kept === 0) edits.push(remove(reservation))
  }
  return { xml: applyEdits(xml, edits), notes: notes.filter(Boolean) }
}

function rewriteInstanceStatus(xml: string, view: ModelView): Rewrite {
  const notes: string[] = []
  const edits: XmlEdit[] = []
  for (const item of select(xml, ['*', 'instanceStatusSet', 'item'])) {
    const verdict = judgeInstance(xml, item, view)
    const shown = verdict.drop ? undefined : verdict.state
    if (verdict.drop || (shown && shown !== 'running' && view.onlyRunning)) {
      notes.push(
        verdict.drop ? verdict.note : `${childText(xml, item, 'instanceId')}:${shown}:filtered`
      )
      edits.push(remove(item))
      continue
    }
    if (!shown) continue
    notes.push(`${childText(xml, item, 'instanceId')}:${shown}`)
    edits.push(setState(xml, item, 'instanceState', shown))
    // Status checks only run on a running instance.
    for (const name of ['instanceStatus', 'systemStatus']) {
      const status = child(xml, item, name)
      if (status) edits.push(replaceInner(status, '<status>not-applicable</status>'))
    }
  }
  return { xml: applyEdits(xml, edits), notes: notes.filter(Boolean) }
}

function setState(xml: string, item: XmlElement, name: string, state: InstanceStateName): XmlEdit {
  const element = child(xml, item, name)
  if (!element) throw new Error(`moto answer without ${name} in an instance item`)
  return replaceInner(element, stateXml(state))
}

const stateXml = (state: InstanceStateName): string =>
  `<code>${STATE_CODES[state]}</code><name>${state}</name>`

function stateName(xml: string, item: XmlElement, name: string): string | undefined {
  const state = child(xml, item, name)
  return state ? childText(xml, state, 'name') : undefined
}

function textAt(xml: string, path: string[]): string | undefined {
  const [element] = select(xml, path)
  return element ? xml.slice(element.innerStart, element.innerEnd) : undefined
}

const present = (value: string | undefined): string[] => (value ? [value] : [])

// EC2 resource ids the proxy models eventual consistency for: which ones a call names, and the
// NotFound code EC2 answers for each kind.
export interface ResourceKind {
  prefix: string
  notFound: string
}

export const KINDS: readonly ResourceKind[] = [
  { prefix: 'i-', notFound: 'InvalidInstanceID.NotFound' },
  { prefix: 'sg-', notFound: 'InvalidGroup.NotFound' },
  { prefix: 'eipalloc-', notFound: 'InvalidAllocationID.NotFound' }
]

const ID = /^(i|sg|eipalloc)-[0-9a-f]{8,17}$/

export const isModelledId = (value: string): boolean => ID.test(value)

export function notFoundCode(id: string): string {
  const kind = KINDS.find(k => id.startsWith(k.prefix))
  if (!kind) throw new Error(`not a modelled resource id: ${id}`)
  return kind.notFound
}

export interface NamedIds {
  /** Ids in ordinary parameters (InstanceId.1, GroupId, AllocationId, ResourceId.N, …). */
  direct: string[]
  /** Ids only given as filter values (Filter.N.Value.M). */
  inFilters: string[]
}

export function namedIds(params: URLSearchParams): NamedIds {
  const direct: string[] = []
  const inFilters: string[] = []
  for (const [key, value] of params) {
    if (!isModelledId(value)) continue
    ;(key.startsWith('Filter.') ? inFilters : direct).push(value)
  }
  return { direct, inFilters }
}

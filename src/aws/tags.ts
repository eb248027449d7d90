import type { Filter, ResourceType, Tag, TagSpecification } from '@aws-sdk/client-ec2'

/** Every resource the action creates carries it; every lookup finds resources by it. */
export const DEPLOYMENT_TAG = 'openemr-redis:deployment'
export const MANAGED_BY_TAG = 'openemr-redis:managed-by'
export const MANAGED_BY_VALUE = 'openemr-redis-action'
/** Key prefix the action reserves; user tags under it are dropped, never allowed to win. */
export const RESERVED_PREFIX = 'openemr-redis:'

export interface TagOptions {
  deployment: string
  /** The Name tag (instance-name for the instance). */
  name?: string
  /** User tags from the tags input. */
  extra?: Record<string, string>
}

/**
 * The tag list for one resource: Name, the deployment, managed-by, then the user's tags in
 * key order (stable, so a plan diff does not flicker). Keys the action owns cannot be
 * overridden by user tags.
 */
export function resourceTags({ deployment, name, extra = {} }: TagOptions): Tag[] {
  const own: Tag[] = [
    ...(name === undefined || name === '' ? [] : [{ Key: 'Name', Value: name }]),
    { Key: DEPLOYMENT_TAG, Value: deployment },
    { Key: MANAGED_BY_TAG, Value: MANAGED_BY_VALUE }
  ]
  const user = Object.keys(extra)
    .filter(key => key !== 'Name' && !key.startsWith(RESERVED_PREFIX))
    .sort()
    .map(key => ({ Key: key, Value: extra[key] }))
  return [...own, ...user]
}

/** Tags applied in the create call itself, so nothing ever exists untagged. */
export function tagSpecifications(
  resourceType: ResourceType,
  options: TagOptions
): TagSpecification[] {
  return [{ ResourceType: resourceType, Tags: resourceTags(options) }]
}

export function deploymentFilters(deployment: string): Filter[] {
  return [{ Name: `tag:${DEPLOYMENT_TAG}`, Values: [deployment] }]
}

export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find(t => t.Key === key)?.Value
}

/** Tags as a plain record, for reports and comparisons. */
export function tagRecord(tags: Tag[] | undefined): Record<string, string> {
  const record: Record<string, string> = {}
  for (const t of tags ?? []) if (t.Key !== undefined) record[t.Key] = t.Value ?? ''
  return record
}

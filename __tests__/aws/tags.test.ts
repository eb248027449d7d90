import { describe, expect, it } from '@jest/globals'
import {
  DEPLOYMENT_TAG,
  deploymentFilters,
  MANAGED_BY_TAG,
  resourceTags,
  tagRecord,
  tagSpecifications,
  tagValue
} from '../../src/aws/tags.js'

describe('tags', () => {
  it('uses the documented keys', () => {
    expect(DEPLOYMENT_TAG).toBe('openemr-redis:deployment')
    expect(MANAGED_BY_TAG).toBe('openemr-redis:managed-by')
  })

  it('puts Name, deployment and managed-by first, then user tags by key', () => {
    expect(
      resourceTags({ deployment: 'prod', name: 'openemr-redis', extra: { z: '1', team: 'it' } })
    ).toEqual([
      { Key: 'Name', Value: 'openemr-redis' },
      { Key: 'openemr-redis:deployment', Value: 'prod' },
      { Key: 'openemr-redis:managed-by', Value: 'openemr-redis-action' },
      { Key: 'team', Value: 'it' },
      { Key: 'z', Value: '1' }
    ])
  })

  it('never lets a user tag override the keys the action owns', () => {
    const tags = resourceTags({
      deployment: 'prod',
      extra: { Name: 'x', 'openemr-redis:deployment': 'other', 'openemr-redis:x': 'y', a: 'b' }
    })
    expect(tagRecord(tags)).toEqual({
      'openemr-redis:deployment': 'prod',
      'openemr-redis:managed-by': 'openemr-redis-action',
      a: 'b'
    })
  })

  it('builds a tag specification for a resource type', () => {
    expect(tagSpecifications('elastic-ip', { deployment: 'd' })).toEqual([
      {
        ResourceType: 'elastic-ip',
        Tags: [
          { Key: 'openemr-redis:deployment', Value: 'd' },
          { Key: 'openemr-redis:managed-by', Value: 'openemr-redis-action' }
        ]
      }
    ])
  })

  it('filters by the deployment tag', () => {
    expect(deploymentFilters('d')).toEqual([
      { Name: 'tag:openemr-redis:deployment', Values: ['d'] }
    ])
  })

  it('reads a tag value', () => {
    const tags = [{ Key: 'Name', Value: 'n' }]
    expect(tagValue(tags, 'Name')).toBe('n')
    expect(tagValue(tags, 'other')).toBeUndefined()
    expect(tagValue(undefined, 'Name')).toBeUndefined()
  })
})

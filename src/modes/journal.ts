import * as core from '@actions/core'
import { releaseAddress } from '../aws/address.js'
import { errorMessage } from '../aws/errors.js'
import { terminateInstance, waitForState } from '../aws/instance.js'
import { Deadline } from '../aws/poll.js'
import { deleteSecurityGroup } from '../aws/security-group.js'
import type { RunContext } from './context.js'

// Rollback runs after a failure, possibly after the run's own deadline passed: it gets its own.
const ROLLBACK_SECONDS = 600

export type CreatedResource =
  | { kind: 'security group'; id: string }
  | { kind: 'instance'; id: string }
  | { kind: 'Elastic IP'; id: string }

/**
 * What this run created, in order. A failed apply undoes exactly these, newest first, and
 * never touches what existed before it started.
 */
export class Journal {
  readonly created: CreatedResource[] = []

  record(resource: CreatedResource): void {
    this.created.push(resource)
  }

  describe(): string {
    return this.created.map(r => `${r.kind} ${r.id}`).join(', ')
  }

  /** Deletes what this run created, newest first; returns what could not be deleted. */
  async rollback(ctx: RunContext): Promise<string[]> {
    const { ec2 } = ctx.clients
    const deadline = new Deadline(ROLLBACK_SECONDS)
    const failed: string[] = []
    for (const resource of [...this.created].reverse()) {
      try {
        if (resource.kind === 'instance') {
          await terminateInstance(ec2, resource.id)
          await waitForState(ec2, resource.id, 'terminated', deadline)
        } else if (resource.kind === 'Elastic IP') {
          await releaseAddress(ec2, resource.id, deadline)
        } else {
          await deleteSecurityGroup(ec2, resource.id, deadline)
        }
        core.info(`Rolled back: deleted ${resource.kind} ${resource.id}`)
      } catch (error) {
        failed.push(`${resource.kind} ${resource.id} (${errorMessage(error)})`)
      }
    }
    return failed
  }
}

import * as core from '@actions/core'
import { createAwsClients } from './aws/client.js'
import { errorMessage } from './aws/errors.js'
import { releaseIfHeld } from './aws/lock.js'
import { revokeAllSsh } from './aws/security-group.js'
import { loadHeldLock, loadOpenSshRule } from './state.js'

/**
 * The post step runs even when the job failed or was cancelled: no temporary SSH rule may
 * outlive the job, and a deployment lock main died holding is freed for the next run.
 */
export async function runPost(): Promise<void> {
  await closeLeftSsh()
  await freeLeftLock()
}

async function freeLeftLock(): Promise<void> {
  const lock = loadHeldLock()
  if (!lock) return
  try {
    const { ec2 } = createAwsClients(lock.region)
    if (await releaseIfHeld(ec2, lock.groupId, lock.holder))
      core.info(`Freed the deployment lock this job left on ${lock.groupId}.`)
  } catch (error) {
    // Not a failure: an unreleased claim lapses by itself (its description says when).
    core.warning(`Could not free the deployment lock on ${lock.groupId}: ${errorMessage(error)}`)
  }
}

async function closeLeftSsh(): Promise<void> {
  const rule = loadOpenSshRule()
  if (!rule) {
    core.info('No temporary SSH rule is open; nothing to close.')
    return
  }
  try {
    const { ec2 } = createAwsClients(rule.region)
    const revoked = await revokeAllSsh(ec2, rule.groupId)
    core.info(
      revoked > 0
        ? `Closed ${revoked} SSH rule${revoked === 1 ? '' : 's'} left open on ${rule.groupId}.`
        : `SSH on ${rule.groupId} was already closed.`
    )
  } catch (error) {
    core.setFailed(
      `Could not confirm that SSH is closed on ${rule.groupId} in ${rule.region}: ${errorMessage(error)}. Remove any port 22 rule from that group in the EC2 console.`
    )
  }
}

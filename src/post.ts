import * as core from '@actions/core'
import { createAwsClients } from './aws/client.js'
import { errorMessage } from './aws/errors.js'
import { revokeAllSsh } from './aws/security-group.js'
import { loadOpenSshRule } from './state.js'

/**
 * The post step runs even when the job failed or was cancelled; its one duty is that no
 * temporary SSH rule outlives the job.
 */
export async function runPost(): Promise<void> {
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

import * as core from '@actions/core'
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
  core.setFailed(
    `A temporary SSH rule (${rule.cidr} to port ${rule.port}) may still be open on ${rule.groupId} in ${rule.region}; this version cannot close it. Remove it in the EC2 console.`
  )
}

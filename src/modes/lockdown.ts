import * as core from '@actions/core'
import { openTemporarySsh, revokeAllSsh } from '../aws/security-group.js'
import { saveOpenSshRule } from '../state.js'
import type { RunContext } from './context.js'

/**
 * Opens the temporary SSH rule, recording it first so the post step closes it even if this
 * process dies between the call and the next line.
 */
export async function openSsh(ctx: RunContext, groupId: string, cidr: string): Promise<void> {
  saveOpenSshRule({ region: ctx.settings.region, groupId, cidr, port: 22 })
  await openTemporarySsh(ctx.clients.ec2, groupId, cidr, { deadline: ctx.deadline })
  core.info(`Opened SSH from ${cidr} on ${groupId} (temporary)`)
}

/** Revokes every SSH rule of the group; safe to call whether or not one is open. */
export async function closeSsh(ctx: RunContext, groupId: string): Promise<number> {
  const revoked = await revokeAllSsh(ctx.clients.ec2, groupId)
  saveOpenSshRule(undefined)
  if (revoked > 0)
    core.info(`Closed SSH on ${groupId} (${revoked} rule${revoked === 1 ? '' : 's'})`)
  return revoked
}

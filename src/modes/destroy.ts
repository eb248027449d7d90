import * as core from '@actions/core'
import { findAddresses, releaseAddress } from '../aws/address.js'
import { findInstances, terminateInstance, waitForState } from '../aws/instance.js'
import { deleteSecurityGroup, findSecurityGroup } from '../aws/security-group.js'
import { DEPLOYMENT_TAG, tagValue } from '../aws/tags.js'
import { reportResult } from '../report.js'
import { phase, type RunContext } from './context.js'

/**
 * Removes what the deployment created: the instance (waiting until it is gone, so its network
 * interface frees the group), its Elastic IP, then the group. Nothing found is a success.
 */
export async function destroy(ctx: RunContext): Promise<void> {
  const { settings } = ctx
  const { ec2 } = ctx.clients
  // Every tagged instance and address, not just the newest: an interrupted run may have
  // left a second one, and destroy is how it goes away.
  const [group, instances, addresses] = await phase(ctx, 'find', () =>
    Promise.all([
      findSecurityGroup(ec2, { vpcId: settings.vpcId, name: settings.securityGroupName }),
      findInstances(ec2, settings.deployment),
      findAddresses(ec2, settings.deployment)
    ])
  )
  if (instances.length > 0) {
    await phase(ctx, 'terminate', () =>
      Promise.all(
        instances.map(async instance => {
          await terminateInstance(ec2, instance.id)
          await waitForState(ec2, instance.id, 'terminated', ctx.deadline)
          ctx.changes.push(`terminated instance ${instance.id}`)
        })
      )
    )
  }
  for (const address of addresses) {
    await phase(ctx, 'release', () => releaseAddress(ec2, address.allocationId, ctx.deadline))
    ctx.changes.push(`released Elastic IP ${address.publicIp}`)
  }
  if (group?.id) {
    if (tagValue(group.tags, DEPLOYMENT_TAG) === settings.deployment) {
      const groupId = group.id
      await phase(ctx, 'delete group', () => deleteSecurityGroup(ec2, groupId, ctx.deadline))
      ctx.changes.push(`deleted security group ${groupId}`)
    } else {
      core.warning(
        `Security group ${group.id} (${settings.securityGroupName}) does not carry ${DEPLOYMENT_TAG}=${settings.deployment}, so this action did not create it; left in place.`
      )
    }
  }
  if (ctx.changes.length === 0)
    core.info(`Nothing to destroy for deployment ${settings.deployment}.`)
  await reportResult(
    ctx,
    {
      instanceId: '',
      privateIp: '',
      securityGroupId: '',
      publicIp: '',
      allocationId: '',
      configCommitSha: '',
      pullRequestUrl: '',
      warnings: []
    },
    'Destroyed: OpenEMR Redis session host'
  )
}

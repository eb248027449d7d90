import { findAddress } from '../aws/address.js'
import { findInstance } from '../aws/instance.js'
import { resolveNetwork } from '../aws/network.js'
import type { RunContext } from './context.js'

/**
 * The network facts and the deployment's existing resources, looked up together: the Redis
 * group rides on the network's DescribeSecurityGroups call, the instance and the address are
 * found by the deployment tag.
 */
export async function findDeployment(ctx: RunContext) {
  const { ec2 } = ctx.clients
  const { settings } = ctx
  const [network, { instance, address }] = await Promise.all([
    resolveNetwork(ec2, {
      vpcId: settings.vpcId,
      subnetId: settings.subnetId,
      sshVia: settings.sshVia,
      clientSecurityGroupId: settings.clientSecurityGroupId,
      groupName: settings.securityGroupName
    }),
    findResources(ctx)
  ])
  return { network, group: network.group, instance, address }
}

/** The deployment's instance and address again, fresh (after waiting for the lock). */
export async function findResources(ctx: RunContext) {
  const { ec2 } = ctx.clients
  const [instance, address] = await Promise.all([
    findInstance(ec2, ctx.settings.deployment),
    ctx.settings.elasticIp === 'none'
      ? Promise.resolve(undefined)
      : findAddress(ec2, ctx.settings.deployment)
  ])
  return { instance, address }
}

export type Deployment = Awaited<ReturnType<typeof findDeployment>>

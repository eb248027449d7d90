import * as core from '@actions/core'
import { resolveImage } from '../aws/image.js'
import { diffIngress } from '../aws/security-group.js'
import { tagValue } from '../aws/tags.js'
import { publishConfig } from '../config-file/github.js'
import { reportResult } from '../report.js'
import { CONFIG_HASH_TAG, desiredConfigHash } from './access.js'
import { phase, type RunContext } from './context.js'
import { findDeployment } from './find-deployment.js'
import { describePermission } from './rules.js'

/** What apply would do, found with read-only calls only; nothing is created or modified. */
export async function plan(ctx: RunContext): Promise<void> {
  const { settings } = ctx
  const { ec2, ssm } = ctx.clients
  const found = await phase(ctx, 'resolve', () => findDeployment(ctx))
  const network = found.network
  const would = ctx.changes
  const leave: string[] = []

  if (!found.group) {
    would.push(`create security group '${settings.securityGroupName}' in ${settings.vpcId}`)
    would.push(`allow port ${settings.redisPort} from ${network.clientGroupId} only`)
  } else {
    const diff = diffIngress(found.group, {
      port: settings.redisPort,
      clientGroupId: network.clientGroupId
    })
    for (const p of diff.add)
      would.push(`add ingress to ${found.group.id}: ${describePermission(p)}`)
    for (const p of diff.remove)
      would.push(`revoke ingress from ${found.group.id}: ${describePermission(p)}`)
    if (diff.add.length + diff.remove.length === 0)
      leave.push(`security group ${found.group.id} (rules as desired)`)
  }

  const instance = found.instance
  if (!instance) {
    const image = await resolveImage(ec2, ssm, {
      amiId: settings.amiId,
      instanceType: settings.instanceType
    })
    would.push(
      `launch ${settings.instanceType} from ${image.imageId} (${image.name}), ${settings.diskSizeGb} GiB encrypted gp3, named ${settings.instanceName}`
    )
    would.push('provision Redis over SSH (a temporary SSH rule from the runner, closed afterwards)')
  } else {
    if (instance.state === 'stopped') would.push(`start instance ${instance.id}`)
    if (
      tagValue(instance.tags, CONFIG_HASH_TAG) !==
      desiredConfigHash(settings, instance.privateIp ?? '')
    )
      would.push(`re-provision Redis on ${instance.id} (its configuration differs from the inputs)`)
    else leave.push(`instance ${instance.id} (Redis configuration unchanged)`)
  }

  if (settings.elasticIp !== 'none') {
    if (!found.address) would.push('allocate an Elastic IP and associate it')
    else if (instance && found.address.publicIp !== instance.publicIp)
      would.push(`associate Elastic IP ${found.address.publicIp} with ${instance.id}`)
    else leave.push(`Elastic IP ${found.address.publicIp}`)
    if (settings.elasticIp === 'release') would.push('release the Elastic IP after lockdown')
  }

  const warnings: string[] = []
  const config = settings.config
  if (config) {
    if (instance) {
      const preview = await phase(ctx, 'publish (dry run)', () =>
        publishConfig(
          config,
          { ip: instance.privateIp ?? '', port: settings.redisPort },
          { dryRun: true, deployment: settings.deployment }
        )
      )
      if (preview.changed) {
        would.push(`commit ${config.path} in ${config.owner}/${config.repo}`)
        core.info(`Diff of ${config.path}:\n${preview.diff}`)
      } else leave.push(`${config.path} (already points at ${instance.privateIp})`)
      warnings.push(...preview.warnings)
    } else would.push(`rewrite and commit ${config.path} once the private IP is known`)
  }

  core.info(`Plan: ${would.length} change${would.length === 1 ? '' : 's'}`)
  for (const w of would) core.info(`  + ${w}`)
  for (const l of leave) core.info(`  = leave ${l}`)
  await reportResult(
    ctx,
    {
      instanceId: instance?.id ?? '',
      privateIp: instance?.privateIp ?? '',
      securityGroupId: found.group?.id ?? '',
      publicIp: found.address?.publicIp ?? instance?.publicIp ?? '',
      allocationId: found.address?.allocationId ?? '',
      configCommitSha: '',
      pullRequestUrl: '',
      warnings
    },
    'Plan: OpenEMR Redis session host'
  )
}

import * as core from '@actions/core'
import {
  allocateAddress,
  associateAddress,
  disassociateAddress,
  releaseAddress,
  type AddressInfo
} from '../aws/address.js'
import { errorMessage } from '../aws/errors.js'
import { resolveImage, type ResolvedImage } from '../aws/image.js'
import {
  clientToken,
  launchInstance,
  startInstance,
  tagResource,
  terminateInstance,
  waitForState,
  type InstanceSummary
} from '../aws/instance.js'
import { resolveSshCidr } from '../aws/runner-address.js'
import {
  applyIngressDiff,
  createSecurityGroup,
  diffIngress,
  type SecurityGroupInfo
} from '../aws/security-group.js'
import { MANAGED_BY_TAG, MANAGED_BY_VALUE, resourceTags, tagValue } from '../aws/tags.js'
import { acquireLock, type Lock } from '../aws/lock.js'
import { saveHeldLock } from '../state.js'
import { randomBytes } from 'node:crypto'
import { publishConfig } from '../config-file/github.js'
import { reportResult, type RunResult } from '../report.js'
import {
  CONFIG_HASH_TAG,
  HOST_KEY_TAG,
  desiredConfigHash,
  launchAccess,
  pinnedAccess,
  type SshAccess
} from './access.js'
import { phase, type RunContext } from './context.js'
import { findDeployment, findResources, type Deployment } from './find-deployment.js'
import { Journal } from './journal.js'
import { closeSsh, openSsh } from './lockdown.js'
import { describePermission } from './rules.js'
import { provisionOverSsh } from './provision-step.js'

const GROUP_DESCRIPTION = 'Redis for OpenEMR PHP sessions (managed by openemr-redis-action)'

/**
 * The guide's steps in order, with independent waits overlapped: the Elastic IP is allocated
 * while the instance boots. A converged deployment is confirmed with reads alone — no lock,
 * no SSH — and every change happens under the deployment's lock, so two runs at once end with
 * one group, one instance and one address.
 */
export async function apply(ctx: RunContext): Promise<void> {
  const journal = new Journal()
  let groupId = ''
  let lock: Lock | undefined
  try {
    const found = await phase(ctx, 'resolve', () => findDeployment(ctx))
    const converged = convergedResult(ctx, found)
    if (converged) {
      core.info(
        `Redis on ${converged.instanceId} already has this configuration; SSH stays closed.`
      )
      await publish(ctx, converged)
      await reportResult(ctx, converged)
      return
    }

    // The image is looked up once, as early as it is certainly needed (see ensureGroup).
    const image = once(() => resolveLaunchImage(ctx))
    const group = await phase(ctx, 'network', () =>
      ensureGroup(ctx, journal, found, found.instance ? undefined : image)
    )
    groupId = group.id
    lock = await phase(ctx, 'lock', () => takeLock(ctx, groupId))
    // Another run may have acted between the first look and the lock: look again — unless this
    // run created the group and took its lock at the first claim. A run that found the new group
    // (its create answered Duplicate) and locked it first makes this run's claim contested.
    const createdGroup = journal.created.some(r => r.kind === 'security group')
    const current: Deployment =
      createdGroup && lock.uncontested ? found : { ...found, ...(await findResources(ctx)) }

    const privateIpBefore = current.instance?.privateIp ?? ''
    const needsProvisioning =
      !current.instance ||
      tagValue(current.instance.tags, CONFIG_HASH_TAG) !==
        desiredConfigHash(ctx.settings, privateIpBefore)
    const addressTask = ensureAddressAllocated(ctx, journal, current.address, needsProvisioning)
    const launched = await phase(ctx, 'instance', () =>
      ensureInstance(ctx, journal, current, groupId, image)
    )
    // If the instance dies while booting, SSH attempts to it stop at once.
    const abort = new AbortController()
    const locate = async () => {
      const running = await launched.running
      const address = await phase(ctx, 'address', () =>
        ensureAddressAssociated(ctx, addressTask, running)
      )
      return { instance: running, address }
    }

    const privateIp = launched.instance.privateIp ?? ''
    const configHash = desiredConfigHash(ctx.settings, privateIp)
    const provisionVia = (publicIp: string) =>
      phase(ctx, 'provision', async () => {
        await provision(ctx, {
          groupId,
          instance: launched.instance,
          publicIp,
          vpcCidr: found.network.vpcCidr,
          access: launched.access ?? (await pinnedAccess(ctx, launched.instance)),
          signal: abort.signal
        })
        await tagResource(ctx.clients.ec2, launched.instance.id, [
          { Key: CONFIG_HASH_TAG, Value: configHash }
        ])
      })
    let located: Awaited<ReturnType<typeof locate>>
    if (tagValue(launched.instance.tags, CONFIG_HASH_TAG) === configHash) {
      located = await locate()
      core.info(
        `Redis on ${launched.instance.id} already has this configuration; SSH stays closed.`
      )
    } else if (ctx.settings.sshVia === 'private') {
      // SSH to the private address needs neither EC2's "running" nor the Elastic IP: sshd
      // answering is the real signal, so both waits go on while provisioning starts.
      const locating = locate()
      // An address that cannot be had ends the run: SSH attempts stop rather than wait it out.
      locating.catch(error => abort.abort(error))
      const [where, provisioned] = await Promise.allSettled([locating, provisionVia('')])
      if (where.status === 'rejected') throw where.reason
      if (provisioned.status === 'rejected') throw provisioned.reason
      located = where.value
    } else {
      located = await locate()
      await provisionVia(located.address?.publicIp ?? located.instance.publicIp ?? '')
    }
    const { instance, address } = located
    const publicIp = address?.publicIp ?? instance.publicIp ?? ''

    if (ctx.settings.elasticIp === 'release' && address) {
      await releaseAddress(ctx.clients.ec2, address.allocationId, ctx.deadline)
      ctx.changes.push(`released Elastic IP ${address.publicIp} after lockdown`)
    }

    const result: RunResult = {
      instanceId: instance.id,
      privateIp,
      securityGroupId: groupId,
      publicIp: ctx.settings.elasticIp === 'release' ? '' : publicIp,
      allocationId: ctx.settings.elasticIp === 'keep' ? (address?.allocationId ?? '') : '',
      configCommitSha: '',
      pullRequestUrl: '',
      warnings: []
    }
    await publish(ctx, result)
    await reportResult(ctx, result)
  } catch (error) {
    await recover(ctx, journal, groupId)
    throw error
  } finally {
    if (lock) await freeLock(lock)
  }
}

/**
 * The result when nothing needs doing: the group carries exactly the desired rules, the
 * instance runs with the recorded configuration, and the address is where the policy wants it.
 */
function convergedResult(ctx: RunContext, found: Deployment): RunResult | undefined {
  const { settings } = ctx
  const { group, instance, address, network } = found
  if (!group || !instance || instance.state !== 'running') return undefined
  if (tagValue(group.tags, MANAGED_BY_TAG) !== MANAGED_BY_VALUE) return undefined
  const diff = diffIngress(group, {
    port: settings.redisPort,
    clientGroupId: network.clientGroupId
  })
  if (diff.add.length + diff.remove.length > 0) return undefined
  const privateIp = instance.privateIp ?? ''
  if (tagValue(instance.tags, CONFIG_HASH_TAG) !== desiredConfigHash(settings, privateIp))
    return undefined
  if (settings.elasticIp === 'keep' && address?.instanceId !== instance.id) return undefined
  if (settings.elasticIp === 'release' && address) return undefined
  return {
    instanceId: instance.id,
    privateIp,
    securityGroupId: group.id,
    publicIp: settings.elasticIp === 'keep' ? (address?.publicIp ?? '') : (instance.publicIp ?? ''),
    allocationId: settings.elasticIp === 'keep' ? (address?.allocationId ?? '') : '',
    configCommitSha: '',
    pullRequestUrl: '',
    warnings: []
  }
}

/** Takes the deployment lock, recorded first so the post step frees it if this process dies. */
async function takeLock(ctx: RunContext, groupId: string): Promise<Lock> {
  const holder = [
    process.env.GITHUB_RUN_ID ?? 'local',
    process.env.GITHUB_RUN_ATTEMPT ?? '1',
    randomBytes(3).toString('hex')
  ].join('.')
  saveHeldLock({ region: ctx.settings.region, groupId, holder })
  return acquireLock(ctx.clients.ec2, groupId, {
    holder,
    deadline: ctx.deadline,
    onWait: (other, until) =>
      core.info(
        `Another run (${other}) is changing deployment ${ctx.settings.deployment}; waiting for it (its claim lapses at ${until.toISOString()}).`
      )
  })
}

async function freeLock(lock: Lock): Promise<void> {
  try {
    await lock.release()
    saveHeldLock(undefined)
  } catch (error) {
    core.warning(
      `Could not release the deployment lock on ${lock.groupId}: ${errorMessage(error)}. The post step will try again.`
    )
  }
}

/** The group exists, with port 22 closed and the Redis port open to the client group only. */
async function ensureGroup(
  ctx: RunContext,
  journal: Journal,
  found: Deployment,
  whileNew?: () => Promise<unknown>
): Promise<SecurityGroupInfo> {
  const { settings } = ctx
  let group = found.group
  if (!group) {
    const made = await createSecurityGroup(ctx.clients.ec2, {
      vpcId: settings.vpcId,
      name: settings.securityGroupName,
      description: GROUP_DESCRIPTION,
      tags: resourceTags({
        deployment: settings.deployment,
        name: settings.securityGroupName,
        extra: settings.tags
      }),
      deadline: ctx.deadline
    })
    group = made.group
    if (made.created) {
      journal.record({ kind: 'security group', id: group.id })
      ctx.changes.push(`created security group ${group.id} (${settings.securityGroupName})`)
      // Right after its create EC2 may not see the group yet, and a rule added at once is
      // answered NotFound and retried. Work the launch needs anyway fills that window instead.
      await whileNew?.()
    }
  }
  if (tagValue(group.tags, MANAGED_BY_TAG) !== MANAGED_BY_VALUE) {
    // A group made by hand (the guide's): adopted, so the IAM policy's tag conditions admit
    // changing it and destroy will remove it with the rest of the deployment.
    const tags = resourceTags({ deployment: settings.deployment, extra: settings.tags })
    await tagResource(ctx.clients.ec2, group.id, tags, ctx.deadline)
    group = { ...group, tags: [...group.tags, ...tags] }
    ctx.changes.push(`adopted security group ${group.id} (${settings.securityGroupName})`)
  }
  const diff = diffIngress(group, {
    port: settings.redisPort,
    clientGroupId: found.network.clientGroupId
  })
  if (diff.add.length + diff.remove.length > 0) {
    await applyIngressDiff(ctx.clients.ec2, group.id, diff, ctx.deadline)
    for (const p of diff.add) ctx.changes.push(`allowed ${describePermission(p)} on ${group.id}`)
    for (const p of diff.remove) ctx.changes.push(`revoked ${describePermission(p)} on ${group.id}`)
  }
  return group
}

/** Starts allocating the Elastic IP at once, so it is ready when the instance is. */
function ensureAddressAllocated(
  ctx: RunContext,
  journal: Journal,
  existing: AddressInfo | undefined,
  needsProvisioning: boolean
): Promise<AddressInfo | undefined> {
  const { settings } = ctx
  if (settings.elasticIp === 'none' || existing) return Promise.resolve(existing)
  // With release, the address exists only to reach SSH: none is needed when SSH is not.
  if (settings.elasticIp === 'release' && !needsProvisioning) return Promise.resolve(undefined)
  const task = allocateAddress(
    ctx.clients.ec2,
    resourceTags({
      deployment: settings.deployment,
      name: settings.instanceName,
      extra: settings.tags
    })
  ).then(a => {
    journal.record({ kind: 'Elastic IP', id: a.allocationId })
    ctx.changes.push(`allocated Elastic IP ${a.publicIp}`)
    return a
  })
  // The rejection is read where the task is awaited; until then Node must not call it unhandled.
  task.catch(() => undefined)
  return task
}

async function ensureAddressAssociated(
  ctx: RunContext,
  task: Promise<AddressInfo | undefined>,
  instance: InstanceSummary
): Promise<AddressInfo | undefined> {
  const address = await task
  if (!address || address.instanceId === instance.id) return address
  await associateAddress(ctx.clients.ec2, address.allocationId, instance.id, ctx.deadline)
  ctx.changes.push(`associated ${address.publicIp} with ${instance.id}`)
  return { ...address, instanceId: instance.id }
}

async function resolveLaunchImage(ctx: RunContext): Promise<ResolvedImage> {
  const image = await resolveImage(ctx.clients.ec2, ctx.clients.ssm, {
    amiId: ctx.settings.amiId,
    instanceType: ctx.settings.instanceType
  })
  if (image.fallbackReason) core.info(`Image: ${image.fallbackReason}`)
  return image
}

/** The first call starts `make`; every call shares its one promise. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined
  return () => (started ??= make())
}

const ready = (instance: InstanceSummary) => ({ instance, running: Promise.resolve(instance) })

/** Reuses the deployment's instance (starting it when stopped) or launches a new one. */
async function ensureInstance(
  ctx: RunContext,
  journal: Journal,
  found: Deployment,
  groupId: string,
  resolveImageOnce: () => Promise<ResolvedImage>
): Promise<{ instance: InstanceSummary; running: Promise<InstanceSummary>; access?: SshAccess }> {
  const { settings } = ctx
  const { ec2 } = ctx.clients
  let existing = found.instance
  if (existing && !tagValue(existing.tags, CONFIG_HASH_TAG) && !settings.sshPrivateKey) {
    // Launched by a run that failed before Redis was ever provisioned, with an ephemeral key
    // that died with it: nothing on it is worth keeping and nothing can log in. Replace it.
    core.info(`Instance ${existing.id} was never provisioned and its key is gone; replacing it.`)
    await terminateInstance(ec2, existing.id)
    await waitForState(ec2, existing.id, 'terminated', ctx.deadline)
    // EC2 frees the address of a terminated instance by itself; some emulators do not.
    if (found.address?.instanceId === existing.id) {
      await disassociateAddress(ec2, found.address.allocationId)
      found.address.instanceId = undefined
    }
    ctx.changes.push(`replaced never-provisioned instance ${existing.id}`)
    existing = undefined
  }
  if (existing) {
    if (existing.state === 'running') return ready(existing)
    if (existing.state === 'stopped' || existing.state === 'stopping') {
      if (existing.state === 'stopping')
        await waitForState(ec2, existing.id, 'stopped', ctx.deadline)
      await startInstance(ec2, existing.id)
      ctx.changes.push(`started instance ${existing.id}`)
    }
    return ready(await waitForState(ec2, existing.id, 'running', ctx.deadline))
  }

  const image = await resolveImageOnce()
  const { access, userData } = launchAccess(settings)
  const launched = await launchInstance(ec2, {
    imageId: image.imageId,
    rootDeviceName: image.rootDeviceName,
    instanceType: settings.instanceType,
    subnets: found.network.subnets.map(s => s.id),
    groupId,
    keyName: settings.keyName || undefined,
    userData,
    diskSizeGb: settings.diskSizeGb,
    tags: [
      ...resourceTags({
        deployment: settings.deployment,
        name: settings.instanceName,
        extra: settings.tags
      }),
      { Key: HOST_KEY_TAG, Value: access.hostKeyFingerprints[0] }
    ],
    deadline: ctx.deadline,
    clientToken: clientToken(
      settings.deployment,
      process.env.GITHUB_RUN_ID ?? `local-${Date.now()}`,
      process.env.GITHUB_RUN_ATTEMPT ?? '1'
    ),
    associatePublicIp: settings.elasticIp === 'none' && settings.sshVia === 'public'
  })
  for (const t of launched.tried)
    core.warning(`Subnet ${t.subnetId} could not take ${settings.instanceType}: ${t.error}`)
  journal.record({ kind: 'instance', id: launched.instance.id })
  ctx.changes.push(
    `launched instance ${launched.instance.id} (${settings.instanceType}, ${image.name}) in ${launched.subnetId}`
  )
  // With ssh-via private, provisioning starts before EC2 reports running (see apply): the
  // state is then awaited alongside SSH and apt, which take far longer than pending, so it is
  // looked at every few seconds rather than every second — fewer calls, no time lost.
  if (settings.sshVia === 'private') {
    const running = waitForState(ec2, launched.instance.id, 'running', ctx.deadline, {
      intervalMs: 2000,
      maxIntervalMs: 4000
    })
    running.catch(() => undefined)
    return { instance: launched.instance, running, access }
  }
  const instance = await waitForState(ec2, launched.instance.id, 'running', ctx.deadline)
  return { instance, running: Promise.resolve(instance), access }
}

interface ProvisionPlan {
  signal?: AbortSignal
  groupId: string
  instance: InstanceSummary
  publicIp: string
  vpcCidr: string
  access: SshAccess
}

/** Opens SSH for the shortest time it can: provision, verify, close — closed even on failure. */
async function provision(ctx: RunContext, p: ProvisionPlan): Promise<void> {
  const { settings } = ctx
  const host = settings.sshVia === 'public' ? p.publicIp : (p.instance.privateIp ?? '')
  if (!host)
    throw new Error(
      `instance ${p.instance.id} has no ${settings.sshVia} address to SSH to. Use elastic-ip: keep, or ssh-via: private from a runner inside the VPC.`
    )
  const cidr = await resolveSshCidr(settings.sshCidr, {
    sshVia: settings.sshVia,
    vpcCidr: p.vpcCidr
  })
  await openSsh(ctx, p.groupId, cidr)
  try {
    const result = await provisionOverSsh(ctx, {
      host,
      privateIp: p.instance.privateIp ?? '',
      username: settings.sshUser,
      access: p.access,
      signal: p.signal
    })
    ctx.changes.push(
      result.changed
        ? `provisioned Redis ${result.version} on ${p.instance.id}`
        : `verified Redis ${result.version} on ${p.instance.id} (configuration already in place)`
    )
  } finally {
    await closeSsh(ctx, p.groupId)
  }
}

async function publish(ctx: RunContext, result: RunResult): Promise<void> {
  const config = ctx.settings.config
  if (!config) return
  const published = await phase(ctx, 'publish', () =>
    publishConfig(
      config,
      { ip: result.privateIp, port: ctx.settings.redisPort },
      { dryRun: false, deployment: ctx.settings.deployment }
    )
  )
  result.configCommitSha = published.commitSha ?? ''
  result.pullRequestUrl = published.pullRequestUrl ?? ''
  result.warnings.push(...published.warnings)
  if (published.changed)
    ctx.changes.push(
      `committed ${config.path} to ${config.owner}/${config.repo} (${published.commitSha})`
    )
}

/** After a failure: SSH is closed in every case; what this run created goes when asked. */
async function recover(ctx: RunContext, journal: Journal, groupId: string): Promise<void> {
  if (groupId) {
    try {
      await closeSsh(ctx, groupId)
    } catch (error) {
      core.error(
        `Could not confirm SSH is closed on ${groupId}: ${errorMessage(error)}. The post step will try again.`
      )
    }
  }
  if (journal.created.length === 0) return
  if (!ctx.settings.cleanupOnFailure) {
    core.warning(
      `cleanup-on-failure is false, so these are left for inspection: ${journal.describe()}. A re-run converges them; mode: destroy removes them.`
    )
    return
  }
  const failed = await journal.rollback(ctx)
  if (failed.length > 0)
    core.error(`Could not delete: ${failed.join('; ')}. Delete them in the EC2 console.`)
}

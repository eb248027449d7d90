import {
  AuthorizeSecurityGroupIngressCommand,
  RevokeSecurityGroupIngressCommand,
  type EC2Client
} from '@aws-sdk/client-ec2'
import { hasErrorCode } from './errors.js'
import { LOCK_CIDR, LOCK_PREFIX, isLockRule, lockRule, parseLockDescription } from './lock-rule.js'
import { poll, type Deadline } from './poll.js'
import { describeSecurityGroup } from './security-group.js'

// The mutex itself is described in lock-rule.ts.

export interface LockOptions {
  /** Names the holder in the rule's description: the run id, or something unique. */
  holder: string
  deadline: Deadline
  /** A claim older than this is taken over (its holder died). Default 30 minutes. */
  staleAfterMs?: number
  /** Told once when another run holds the lock and this one starts waiting. */
  onWait?: (holder: string, until: Date) => void
  now?: () => number
}

export interface Lock {
  groupId: string
  /** Whether a live claim of another run made this one wait (taking over a lapsed claim is not waiting). */
  waited: boolean
  /**
   * Whether the first claim took the lock: no other run held it, even a stale claim, when this
   * one asked. A run that created the group and took its lock uncontested is the only run that
   * has ever held it, so nothing another run did can have changed what it found.
   */
  uncontested: boolean
  release(): Promise<void>
}

/** Takes the deployment's lock on its security group, waiting while another run holds it. */
export async function acquireLock(
  ec2: EC2Client,
  groupId: string,
  options: LockOptions
): Promise<Lock> {
  const now = options.now ?? Date.now
  const staleAfterMs = options.staleAfterMs ?? 30 * 60_000
  let waited = false
  let tries = 0
  await poll(
    async observe => {
      const until = new Date(now() + staleAfterMs).toISOString()
      const description = `${LOCK_PREFIX} ${options.holder} until ${until}`
      tries++
      try {
        await ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [lockRule(description)]
          })
        )
        return true
      } catch (error) {
        if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error
      }
      const held = await currentClaim(ec2, groupId)
      if (held && held.holder === options.holder) return true
      if (!held || held.until <= now()) {
        // Stale or unreadable: the holder is gone. Revoke and race for it again.
        await release(ec2, groupId)
        return undefined
      }
      if (!waited) options.onWait?.(held.holder, new Date(held.until))
      waited = true
      observe(`held by ${held.holder} until ${new Date(held.until).toISOString()}`)
      return undefined
    },
    {
      what: `waiting for another run to finish with the deployment (lock on ${groupId})`,
      deadline: options.deadline,
      intervalMs: 500,
      maxIntervalMs: 2000
    }
  )
  return { groupId, waited, uncontested: tries === 1, release: () => release(ec2, groupId) }
}

/** Who holds the lock and until when; undefined when free (or the claim is unreadable). */
async function currentClaim(
  ec2: EC2Client,
  groupId: string
): Promise<{ holder: string; until: number } | undefined> {
  const group = await describeSecurityGroup(ec2, groupId)
  return group?.ingress
    .filter(isLockRule)
    .flatMap(r => (r.IpRanges ?? []).filter(x => x.CidrIp === LOCK_CIDR))
    .map(r => parseLockDescription(r.Description))[0]
}

async function release(ec2: EC2Client, groupId: string): Promise<void> {
  try {
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [lockRule()] })
    )
  } catch (error) {
    if (!hasErrorCode(error, 'InvalidPermission.NotFound', 'InvalidGroup.NotFound')) throw error
  }
}

/** Frees the lock only if `holder` still holds it (a post step must not free another run's). */
export async function releaseIfHeld(
  ec2: EC2Client,
  groupId: string,
  holder: string
): Promise<boolean> {
  const held = await currentClaim(ec2, groupId)
  if (held?.holder !== holder) return false
  await release(ec2, groupId)
  return true
}

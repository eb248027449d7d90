import type { IpPermission } from '@aws-sdk/client-ec2'

// EC2 has no compare-and-swap on tags, but AuthorizeSecurityGroupIngress is atomic: of two
// callers adding the same rule, exactly one succeeds and the other gets
// InvalidPermission.Duplicate, whatever the descriptions say. So one ingress rule that admits
// nothing real — TCP port 1 from 192.0.2.1/32, an address of TEST-NET-1 (RFC 5737) that is
// never routed — serves as the deployment's mutex. Its description names the holder and when
// the claim goes stale, so a run that died without releasing it blocks others only that long.
export const LOCK_CIDR = '192.0.2.1/32'
export const LOCK_PORT = 1
export const LOCK_PREFIX = 'openemr-redis-action lock'

export function isLockRule(rule: IpPermission): boolean {
  return (
    rule.FromPort === LOCK_PORT &&
    rule.ToPort === LOCK_PORT &&
    (rule.IpRanges ?? []).some(r => r.CidrIp === LOCK_CIDR)
  )
}

export function lockRule(description?: string): IpPermission {
  return {
    IpProtocol: 'tcp',
    FromPort: LOCK_PORT,
    ToPort: LOCK_PORT,
    IpRanges: [
      description ? { CidrIp: LOCK_CIDR, Description: description } : { CidrIp: LOCK_CIDR }
    ]
  }
}

/** `openemr-redis-action lock <holder> until <ISO time>` → its parts. */
export function parseLockDescription(
  description: string | undefined
): { holder: string; until: number } | undefined {
  const m = /^openemr-redis-action lock (\S+) until (\S+)$/.exec(description ?? '')
  if (!m) return undefined
  const until = Date.parse(m[2])
  return Number.isNaN(until) ? undefined : { holder: m[1], until }
}

import type { IpPermission } from '@aws-sdk/client-ec2'

/** One line for a security group rule, as a person reads it in the console. */
export function describePermission(p: IpPermission): string {
  const ports =
    p.IpProtocol === '-1'
      ? 'all traffic'
      : p.FromPort === p.ToPort
        ? `${p.IpProtocol} ${p.FromPort}`
        : `${p.IpProtocol} ${p.FromPort}-${p.ToPort}`
  const sources = [
    ...(p.IpRanges ?? []).map(r => r.CidrIp),
    ...(p.Ipv6Ranges ?? []).map(r => r.CidrIpv6),
    ...(p.UserIdGroupPairs ?? []).map(g => g.GroupId),
    ...(p.PrefixListIds ?? []).map(l => l.PrefixListId)
  ]
  return `${ports} from ${sources.join(', ') || 'nowhere'}`
}

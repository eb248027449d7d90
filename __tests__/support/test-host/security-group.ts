// EC2 security groups as nftables: what "locked down" means, made checkable by a test that
// knocks on the port. Pure: rules in, ruleset text out.
import type { SecurityGroup } from '@aws-sdk/client-ec2'
import { isIPv4, isIPv6 } from 'node:net'

export type IngressProtocol = 'tcp' | 'udp' | 'icmp' | '-1'

export interface IngressRule {
  /** Inclusive port range; ignored for '-1' and 'icmp'. */
  fromPort: number
  toPort: number
  protocol: IngressProtocol
  /** CIDRs, group references already resolved to member addresses. */
  sources: string[]
}

const PROTOCOLS: Record<string, IngressProtocol> = {
  tcp: 'tcp',
  '6': 'tcp',
  udp: 'udp',
  '17': 'udp',
  icmp: 'icmp',
  '1': 'icmp',
  '-1': '-1',
  all: '-1'
}

/**
 * The ingress rules that apply to an instance in `groups`: IpRanges and Ipv6Ranges as they
 * are, UserIdGroupPairs replaced by the addresses of that group's members (`membership`,
 * group id → member IPs). A rule whose sources resolve to nothing admits nobody and is left out.
 */
export function rulesFromSecurityGroups(
  groups: SecurityGroup[],
  membership: Record<string, string[]>
): IngressRule[] {
  const rules: IngressRule[] = []
  for (const group of groups) {
    for (const permission of group.IpPermissions ?? []) {
      const protocol = PROTOCOLS[(permission.IpProtocol ?? '').toLowerCase()]
      if (!protocol) {
        throw new Error(
          `${group.GroupId}: protocol ${permission.IpProtocol} is not supported by the test host`
        )
      }
      if (permission.PrefixListIds?.length) {
        throw new Error(`${group.GroupId}: prefix-list sources are not supported by the test host`)
      }
      const sources = [
        ...(permission.IpRanges ?? []).map(r => r.CidrIp),
        ...(permission.Ipv6Ranges ?? []).map(r => r.CidrIpv6),
        ...(permission.UserIdGroupPairs ?? []).flatMap(pair => {
          const members = pair.GroupId ? membership[pair.GroupId] : undefined
          if (!members) {
            throw new Error(
              `${group.GroupId}: rule references ${pair.GroupId ?? 'a group without id'}, which has no entry in membership`
            )
          }
          return members.map(hostCidr)
        })
      ].filter((s): s is string => typeof s === 'string' && s !== '')
      if (sources.length === 0) continue
      const allPorts = protocol === '-1' || protocol === 'icmp'
      rules.push({
        protocol,
        fromPort: allPorts ? 0 : (permission.FromPort ?? 0),
        toPort: allPorts ? 65535 : (permission.ToPort ?? 65535),
        sources: [...new Set(sources)]
      })
    }
  }
  return rules
}

function hostCidr(address: string): string {
  if (address.includes('/')) return address
  return isIPv6(address) ? `${address}/128` : `${address}/32`
}

export const NFT_TABLE = 'ec2_security_group'

/**
 * An nft script replacing the table with one whose input chain drops everything but replies,
 * loopback and the rules' traffic: stateful like a security group, so answers to the host's
 * own outgoing connections (apt, for one) still come back.
 */
export function renderNftables(rules: IngressRule[]): string {
  const lines = [
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    ct state established,related accept',
    '    ct state invalid drop',
    '    iifname "lo" accept'
  ]
  for (const rule of rules) {
    validate(rule)
    const v4 = rule.sources.filter(s => isIPv4(s.split('/')[0]))
    const v6 = rule.sources.filter(s => isIPv6(s.split('/')[0]))
    const match = protocolMatch(rule)
    if (v4.length) lines.push(`    ip saddr { ${v4.join(', ')} } ${match}accept`)
    if (v6.length) lines.push(`    ip6 saddr { ${v6.join(', ')} } ${match}accept`)
  }
  lines.push('  }', '}', '')
  return lines.join('\n')
}

function protocolMatch(rule: IngressRule): string {
  const ports =
    rule.fromPort === rule.toPort ? `${rule.fromPort}` : `${rule.fromPort}-${rule.toPort}`
  switch (rule.protocol) {
    case '-1':
      return ''
    case 'icmp':
      return 'meta l4proto { icmp, ipv6-icmp } '
    default:
      return `${rule.protocol} dport ${ports} `
  }
}

function validate(rule: IngressRule): void {
  const port = (p: number) => Number.isInteger(p) && p >= 0 && p <= 65535
  if (!PROTOCOLS[rule.protocol]) throw new Error(`unsupported protocol ${rule.protocol}`)
  if (!port(rule.fromPort) || !port(rule.toPort) || rule.fromPort > rule.toPort) {
    throw new Error(`bad port range ${rule.fromPort}-${rule.toPort}`)
  }
  for (const source of rule.sources) {
    const [address, prefix, extra] = source.split('/')
    const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1
    const bits = Number(prefix)
    if (max < 0 || extra !== undefined || !/^\d+$/.test(prefix ?? '') || bits > max) {
      throw new Error(`bad source CIDR ${source}`)
    }
  }
}

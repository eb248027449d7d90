import * as core from '@actions/core'
import { mutatingCalls, type RunContext } from './modes/context.js'

export interface RunResult {
  instanceId: string
  privateIp: string
  securityGroupId: string
  publicIp: string
  allocationId: string
  configCommitSha: string
  pullRequestUrl: string
  warnings: string[]
}

function consoleLink(region: string, fragment: string): string {
  return `https://${region}.console.aws.amazon.com/ec2/home?region=${region}#${fragment}`
}

/** Sets every output; empty strings for what this run did not produce. */
export function setOutputs(ctx: RunContext, result: RunResult): void {
  const port = ctx.settings.redisPort
  const endpoint = result.privateIp ? `${result.privateIp}:${port}` : ''
  const outputs: Record<string, string> = {
    'private-ip': result.privateIp,
    'instance-id': result.instanceId,
    'security-group-id': result.securityGroupId,
    'public-ip': result.publicIp,
    'allocation-id': result.allocationId,
    'redis-endpoint': endpoint,
    'session-save-path': endpoint ? `tcp://${endpoint}` : '',
    'config-commit-sha': result.configCommitSha,
    'pull-request-url': result.pullRequestUrl,
    changed: String(ctx.changes.length > 0)
  }
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
}

/** The job summary: resources with console links, what changed, and where the time went. */
export function renderSummary(ctx: RunContext, result: RunResult, title: string): string {
  const { region } = ctx.settings
  const rows: [string, string][] = []
  if (result.securityGroupId)
    rows.push([
      'security group',
      `[${result.securityGroupId}](${consoleLink(region, `SecurityGroup:groupId=${result.securityGroupId}`)})`
    ])
  if (result.instanceId)
    rows.push([
      'instance',
      `[${result.instanceId}](${consoleLink(region, `InstanceDetails:instanceId=${result.instanceId}`)})`
    ])
  if (result.privateIp)
    rows.push(['Redis endpoint', `\`${result.privateIp}:${ctx.settings.redisPort}\``])
  if (result.allocationId)
    rows.push([
      'Elastic IP',
      `[${result.publicIp}](${consoleLink(region, `ElasticIpDetails:AllocationId=${result.allocationId}`)})`
    ])
  else if (result.publicIp) rows.push(['public address', result.publicIp])
  if (result.configCommitSha) rows.push(['config commit', `\`${result.configCommitSha}\``])
  if (result.pullRequestUrl) rows.push(['pull request', result.pullRequestUrl])

  const lines = [`## ${title}`, '']
  if (rows.length)
    lines.push('| resource | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`))
  lines.push('', ctx.changes.length ? '### Changed' : '### Nothing changed', '')
  lines.push(...ctx.changes.map(c => `- ${c}`))
  if (result.warnings.length)
    lines.push('', '### Warnings', '', ...result.warnings.map(w => `- ${w}`))
  lines.push('', '### Phases', '', '| phase | seconds |', '| --- | --- |')
  lines.push(...ctx.phases.map(p => `| ${p.phase} | ${p.seconds.toFixed(1)} |`))
  lines.push('', `AWS API calls: ${ctx.calls.length} (${mutatingCalls(ctx).length} mutating).`, '')
  return lines.join('\n')
}

export async function writeSummary(markdown: string): Promise<void> {
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(markdown).write()
  else core.info(markdown)
}

/** A password can never go into the committed file: say how the app servers get it instead. */
function passwordNote(ctx: RunContext, result: RunResult): string[] {
  const { settings } = ctx
  if (!settings.redisPassword || !settings.config || !result.privateIp) return []
  return [
    `Redis requires a password, which is never written to ${settings.config.path}. Give the application servers session.save_path = "tcp://${result.privateIp}:${settings.redisPort}?auth=<password>" from a secret store (for example an environment property set from AWS Secrets Manager), not from the repository.`
  ]
}

export async function reportResult(
  ctx: RunContext,
  result: RunResult,
  title = 'OpenEMR Redis session host'
): Promise<void> {
  setOutputs(ctx, result)
  const full = { ...result, warnings: [...result.warnings, ...passwordNote(ctx, result)] }
  for (const w of full.warnings) core.warning(w)
  await writeSummary(renderSummary(ctx, full, title))
}

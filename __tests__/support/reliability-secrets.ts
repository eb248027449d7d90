// Looks for secrets where a user (or anyone with read access to a repository's Actions logs)
// could see them: what the bundle printed, its job summary, its outputs and saved state, and
// what it stored in the cloud (user-data and tags). A hit names the place and which secret,
// never the secret itself, so a failing test does not leak it either.
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeTagsCommand
} from '@aws-sdk/client-ec2'
import { generateEd25519KeyPair } from '../../src/ssh/keys.js'
import type { Moto } from './moto.js'
import type { ActionRun } from './run-action.js'

export interface Secret {
  /** What to call it in a hit, e.g. 'redis-password'. */
  name: string
  value: string
}

// The OpenSSH format opens every unencrypted ed25519 key with the same bytes ("openssh-key-v1",
// cipher none, kdf none, …): those lines are in every such key, the host key that user-data
// carries by design included, so they prove nothing. Found by comparing two fresh keys.
const BOILERPLATE = (() => {
  const [a, b] = ['a', 'b'].map(c => generateEd25519KeyPair(c).privateKey.split('\n'))
  return new Set(a.filter((line, i) => line === b[i]))
})()

/**
 * The strings to look for: each secret whole, and each line of a multi-line one (a private
 * key's body lines) that is long enough to be unmistakable: 8 characters for a whole value,
 * 16 for a key line.
 */
export function needles(secrets: Secret[]): Secret[] {
  const found: Secret[] = []
  for (const s of secrets) {
    if (s.value === '') continue
    const lines = s.value.split(/\r?\n/).map(l => l.trim())
    // A value as short as the table's one-letter token matches any text: too short to look for.
    if (lines.length === 1) {
      if (s.value.length >= 8) found.push(s)
    } else
      lines.forEach((line, i) => {
        if (line.length >= 16 && !/^-----(BEGIN|END) /.test(line) && !BOILERPLATE.has(line))
          found.push({ name: `${s.name} line ${i + 1}`, value: line })
      })
  }
  return found
}

/** Everything of a run a person can read: the log without ::add-mask:: lines, and the rest. */
export function visibleParts(run: ActionRun): Record<string, string> {
  return {
    stdout: run.stdout.replace(/^::add-mask::.*$/gm, ''),
    stderr: run.stderr,
    summary: run.summary,
    outputs: JSON.stringify(run.outputs),
    state: JSON.stringify(run.state)
  }
}

/** 'where: which secret' for every secret found in `parts`. */
export function findSecrets(parts: Record<string, string>, secrets: Secret[]): string[] {
  const hits: string[] = []
  for (const [where, text] of Object.entries(parts))
    for (const n of needles(secrets)) if (text.includes(n.value)) hits.push(`${where}: ${n.name}`)
  return hits
}

export function secretsInRun(run: ActionRun, secrets: Secret[]): string[] {
  return findSecrets(visibleParts(run), secrets)
}

/**
 * Secrets stored in moto: its whole state as served (tags, descriptions, …) and each
 * instance's user-data decoded (moto keeps it base64, where a plain search would miss it).
 */
export async function secretsInMoto(moto: Moto, secrets: Secret[]): Promise<string[]> {
  const parts: Record<string, string> = { 'moto state': await moto.dataJson() }
  const answer = await moto.ec2.send(new DescribeInstancesCommand({}))
  for (const i of (answer.Reservations ?? []).flatMap(r => r.Instances ?? [])) {
    const attr = await moto.ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: i.InstanceId, Attribute: 'userData' })
    )
    const encoded = attr.UserData?.Value ?? ''
    parts[`user-data of ${i.InstanceId}`] = Buffer.from(encoded, 'base64').toString('utf8')
  }
  const tags = await moto.ec2.send(new DescribeTagsCommand({ MaxResults: 1000 }))
  parts.tags = JSON.stringify(tags.Tags ?? [])
  return findSecrets(parts, secrets)
}

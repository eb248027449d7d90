import ssh2 from 'ssh2'
import { isIPv4 } from 'node:net'

export type Mode = 'apply' | 'plan' | 'destroy'
export type SshVia = 'public' | 'private'
export type ElasticIpPolicy = 'keep' | 'release' | 'none'

export interface ConfigSettings {
  owner: string
  repo: string
  path: string
  /** Empty means the repository's default branch. */
  branch: string
  token: string
  commitMessage: string
  pullRequest: boolean
}

export interface Settings {
  mode: Mode
  region: string
  vpcId: string
  subnetId: string
  instanceType: string
  diskSizeGb: number
  amiId: string
  keyName: string
  sshPrivateKey: string
  sshUser: string
  sshVia: SshVia
  /** 'auto' or an IPv4 CIDR. */
  sshCidr: string
  securityGroupName: string
  instanceName: string
  clientSecurityGroupId: string
  elasticIp: ElasticIpPolicy
  redisPort: number
  redisPassword: string
  /** 'auto' (75 % of the instance's memory) or a number of bytes. */
  redisMaxmemory: 'auto' | number
  deployment: string
  tags: Record<string, string>
  cleanupOnFailure: boolean
  timeoutSeconds: number
  /** Undefined when no config-repository is given: nothing is committed. */
  config: ConfigSettings | undefined
}

export interface InputProblem {
  input: string
  message: string
}

/** Every problem found in the inputs, so a user fixes them all in one round. */
export class InputError extends Error {
  constructor(readonly problems: InputProblem[]) {
    super(
      `${problems.length} input problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map(p => `- ${p.input}: ${p.message}`).join('\n')
    )
    this.name = 'InputError'
  }
}

export type InputReader = (name: string) => string

/** Inputs whose values must never reach a log; masked before anything else runs. */
export const SECRET_INPUTS = ['ssh-private-key', 'redis-password', 'github-token'] as const

export const DEFAULT_CONFIG_PATH = 'openemr/.ebextensions/06-redis-configuration.config'

/** Tag keys the action writes itself; user tags may not override them. */
export const RESERVED_TAG_PREFIX = 'openemr-redis:'

const AWS_ID = (prefix: string) => new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
const AWS_IDS = {
  vpc: { pattern: AWS_ID('vpc'), label: 'a VPC id' },
  subnet: { pattern: AWS_ID('subnet'), label: 'a subnet id' },
  ami: { pattern: AWS_ID('ami'), label: 'an AMI id' },
  sg: { pattern: AWS_ID('sg'), label: 'a security group id' }
}
const REGION = /^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/
const DEPLOYMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/
// Group names: the characters EC2 accepts for a VPC security group name.
const GROUP_NAME = /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/
const REPO = /^[A-Za-z0-9._-]{1,100}$/
// phpredis parses save_path as a URL query string: '+', '%', '&', '#' and the like are decoded
// or split, and redis.conf needs quoting for others. URL-unreserved characters survive both.
const PASSWORD = /^[A-Za-z0-9._~-]+$/
const MEMORY = /^(\d+)\s*(b|k|kb|m|mb|g|gb)?$/i
const MEMORY_UNITS: Record<string, number> = {
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3
}

class Collector {
  readonly problems: InputProblem[] = []
  add(input: string, message: string): void {
    this.problems.push({ input, message })
  }
}

function oneOf<T extends string>(
  c: Collector,
  input: string,
  raw: string,
  allowed: readonly T[],
  fallback: T
): T {
  const value = raw === '' ? fallback : raw.toLowerCase()
  if ((allowed as readonly string[]).includes(value)) return value as T
  c.add(input, `'${raw}' is not one of ${allowed.join(', ')}. Set it to one of those values.`)
  return fallback
}

function integer(
  c: Collector,
  input: string,
  raw: string,
  fallback: number,
  min: number,
  max: number,
  why = ''
): number {
  if (raw === '') return fallback
  if (!/^\d+$/.test(raw)) {
    c.add(input, `'${raw}' is not a whole number. Use a whole number from ${min} to ${max}.`)
    return fallback
  }
  const n = Number(raw)
  if (n < min || n > max) {
    c.add(input, `${n} is out of range. Use a whole number from ${min} to ${max}${why}.`)
    return fallback
  }
  return n
}

function boolean(c: Collector, input: string, raw: string, fallback: boolean): boolean {
  if (raw === '') return fallback
  if (/^(true|yes|on)$/i.test(raw)) return true
  if (/^(false|no|off)$/i.test(raw)) return false
  c.add(input, `'${raw}' is not a boolean. Use true or false.`)
  return fallback
}

function awsId(
  c: Collector,
  input: string,
  raw: string,
  kind: keyof typeof AWS_IDS,
  example: string
): string {
  if (raw === '' || AWS_IDS[kind].pattern.test(raw)) return raw
  c.add(
    input,
    `'${raw}' is not ${AWS_IDS[kind].label} (expected ${kind}- followed by 8 or 17 lower-case hex digits, like ${example}). Copy the id from the AWS console or CLI.`
  )
  return ''
}

/** Parses an IPv4 CIDR; undefined when it is not one. */
export function parseCidr(value: string): { address: string; prefix: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(value)
  if (!m || !isIPv4(m[1])) return undefined
  const prefix = Number(m[2])
  if (prefix > 32) return undefined
  return { address: m[1], prefix }
}

function sshCidr(c: Collector, raw: string): string {
  if (raw === '' || raw.toLowerCase() === 'auto') return 'auto'
  const value = isIPv4(raw) ? `${raw}/32` : raw
  const cidr = parseCidr(value)
  if (!cidr) {
    c.add(
      'ssh-cidr',
      `'${raw}' is not an IPv4 address or CIDR block. Use auto (the runner's own address), an address like 203.0.113.7, or a block like 203.0.113.0/28.`
    )
    return 'auto'
  }
  if (cidr.prefix < 16) {
    c.add(
      'ssh-cidr',
      `${value} would open SSH to ${2 ** (32 - cidr.prefix)} addresses. Use auto (the runner's own address /32) or a block of /16 or narrower.`
    )
    return 'auto'
  }
  return value
}

function memory(c: Collector, raw: string): 'auto' | number {
  if (raw === '' || raw.toLowerCase() === 'auto') return 'auto'
  const m = MEMORY.exec(raw)
  if (!m) {
    c.add(
      'redis-maxmemory',
      `'${raw}' is not a memory size. Use auto (75 % of the instance's memory) or a size like 512mb or 2gb.`
    )
    return 'auto'
  }
  const bytes = Number(m[1]) * MEMORY_UNITS[(m[2] ?? 'b').toLowerCase()]
  if (bytes < 32 * 1024 ** 2) {
    c.add(
      'redis-maxmemory',
      `'${raw}' is below 32mb, too small to hold sessions. Use auto or a size of at least 32mb.`
    )
    return 'auto'
  }
  return bytes
}

function tags(c: Collector, raw: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = raw
    .split(/\r?\n/)
    .map(l => l.trim())
    .filter(l => l !== '' && !l.startsWith('#'))
  for (const line of lines) {
    const eq = line.indexOf('=')
    if (eq <= 0) {
      c.add('tags', `line '${line}' is not key=value. Write one tag per line, like team=clinic-it.`)
      continue
    }
    const key = line.slice(0, eq).trim()
    const value = line.slice(eq + 1).trim()
    if (key.length > 128) c.add('tags', `key '${key.slice(0, 20)}…' is longer than 128 characters.`)
    else if (value.length > 256)
      c.add('tags', `the value of '${key}' is longer than 256 characters. Shorten it.`)
    else if (/^aws:/i.test(key))
      c.add('tags', `key '${key}' starts with aws:, which AWS reserves. Choose another key.`)
    else if (key === 'Name' || key.startsWith(RESERVED_TAG_PREFIX))
      c.add(
        'tags',
        `key '${key}' is set by the action itself (use instance-name for Name). Remove it from tags.`
      )
    else if (key in result) c.add('tags', `key '${key}' is given twice. Keep one line for it.`)
    else result[key] = value
  }
  if (Object.keys(result).length > 40)
    c.add(
      'tags',
      `${Object.keys(result).length} tags given; AWS allows 50 per resource and the action uses up to 10. Give at most 40.`
    )
  return result
}

function configPath(c: Collector, raw: string): string {
  const value = raw === '' ? DEFAULT_CONFIG_PATH : raw
  const segments = value.split('/')
  const bad =
    value.startsWith('/') ||
    value.includes('\\') ||
    value.length > 1024 ||
    // eslint-disable-next-line no-control-regex -- control characters are what this rejects
    /[\0-\x1f]/.test(value) ||
    segments.some(s => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git')
  if (bad)
    c.add(
      'config-path',
      `'${raw}' is not a plain path inside the repository. Use a relative path with / separators and no '.', '..' or .git segments, like ${DEFAULT_CONFIG_PATH}.`
    )
  return value
}

/** git check-ref-format rules for a branch name. */
function branch(c: Collector, raw: string): string {
  if (raw === '') return ''
  const bad =
    raw.startsWith('-') ||
    raw.startsWith('/') ||
    raw.endsWith('/') ||
    raw.endsWith('.') ||
    raw.endsWith('.lock') ||
    raw.includes('..') ||
    raw.includes('//') ||
    raw.includes('@{') ||
    raw === '@' ||
    /[\0-\x20\x7f~^:?*[\\]/.test(raw) ||
    raw.split('/').some(s => s.startsWith('.'))
  if (bad)
    c.add(
      'config-branch',
      `'${raw}' is not a valid git branch name. Use a name like main or deploy/redis, without spaces, '..', ~ ^ : ? * [ or a trailing / or .lock.`
    )
  return raw.replace(/^refs\/heads\//, '')
}

function privateKey(c: Collector, keyName: string, key: string): void {
  if (keyName !== '' && key === '')
    c.add(
      'ssh-private-key',
      `key-name '${keyName}' is set but ssh-private-key is empty. Pass the key pair's private key from a secret, or leave both empty to use an ephemeral key.`
    )
  if (keyName === '' && key !== '')
    c.add(
      'key-name',
      'ssh-private-key is set but key-name is empty. Name the EC2 key pair the private key belongs to, or leave both empty to use an ephemeral key.'
    )
  if (keyName.length > 255 || /[^\x20-\x7e]/.test(keyName))
    c.add('key-name', 'is not a valid EC2 key pair name (printable ASCII, at most 255 characters).')
  if (key === '') return
  const parsed = ssh2.utils.parseKey(key.replace(/\r\n/g, '\n'))
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message)
    c.add(
      'ssh-private-key',
      encrypted
        ? 'the private key is protected by a passphrase, which an unattended job cannot type. Store an unencrypted copy in the secret.'
        : 'the value does not parse as a private key (OpenSSH or PEM). Paste the whole key file, including its BEGIN and END lines, into the secret.'
    )
    return
  }
  const first = Array.isArray(parsed) ? parsed[0] : parsed
  if (first && !first.isPrivateKey())
    c.add(
      'ssh-private-key',
      'the value is a public key. Pass the private key file, not the .pub file.'
    )
}

function password(c: Collector, raw: string): string {
  if (raw === '') return ''
  if (raw.length < 16 || raw.length > 512)
    c.add(
      'redis-password',
      `the password has ${raw.length} characters; use 16 to 512 (Redis answers fast enough to be guessed). Generate one with: openssl rand -hex 32`
    )
  else if (!PASSWORD.test(raw))
    c.add(
      'redis-password',
      "the password contains characters that would break PHP's session.save_path URL (only letters, digits and - . _ ~ survive it). Generate one with: openssl rand -hex 32"
    )
  return raw
}

function region(c: Collector, raw: string, env: NodeJS.ProcessEnv): string {
  const value = raw || env.AWS_REGION || env.AWS_DEFAULT_REGION || ''
  if (value === '') {
    c.add(
      'aws-region',
      'no region given and neither AWS_REGION nor AWS_DEFAULT_REGION is set. Set aws-region (for example us-east-1), or set up credentials with aws-actions/configure-aws-credentials first.'
    )
    return ''
  }
  if (!REGION.test(value))
    c.add(
      'aws-region',
      `'${value}' is not an AWS region name. Use one like us-east-1 or eu-west-2.`
    )
  return value
}

function repository(c: Collector, raw: string): { owner: string; repo: string } | undefined {
  if (raw === '') return undefined
  const [owner, repo, ...rest] = raw.split('/')
  if (
    rest.length ||
    !owner ||
    !repo ||
    !OWNER.test(owner) ||
    !REPO.test(repo) ||
    repo === '.' ||
    repo === '..'
  ) {
    c.add(
      'config-repository',
      `'${raw}' is not owner/name. Use the repository's full name, like ${'openemr/openemr'} or \${{ github.repository }}.`
    )
    return undefined
  }
  return { owner, repo }
}

/**
 * Reads and checks every input before any AWS or GitHub call, and throws one InputError
 * listing all problems. Secret values never appear in a message.
 */
export function readSettings(read: InputReader, env: NodeJS.ProcessEnv = process.env): Settings {
  const c = new Collector()
  const get = (name: string) => read(name).trim()

  const mode = oneOf<Mode>(c, 'mode', get('mode'), ['apply', 'plan', 'destroy'], 'apply')
  const vpcId = get('vpc-id')
  if (vpcId === '')
    c.add(
      'vpc-id',
      "is required. Give the id of the VPC OpenEMR runs in (the guide's openemr-vpc), like vpc-0a1b2c3d4e5f67890."
    )
  else awsId(c, 'vpc-id', vpcId, 'vpc', 'vpc-0a1b2c3d4e5f67890')

  const instanceType = get('instance-type') || 't3.medium'
  if (!INSTANCE_TYPE.test(instanceType))
    c.add(
      'instance-type',
      `'${instanceType}' is not an EC2 instance type. Use one like t3.medium, t2.medium or m7g.large.`
    )

  const keyName = get('key-name')
  const sshPrivateKey = read('ssh-private-key').trim()
  privateKey(c, keyName, sshPrivateKey)

  const sshUser = get('ssh-user') || 'ubuntu'
  if (!SSH_USER.test(sshUser))
    c.add(
      'ssh-user',
      `'${sshUser}' is not a Linux user name. Use the image's login user, like ubuntu (Ubuntu) or admin (Debian).`
    )

  const securityGroupName = get('security-group-name') || 'redis'
  if (securityGroupName.toLowerCase() === 'default')
    c.add(
      'security-group-name',
      "'default' names the VPC's own default group, which the action would strip of its rules. Use another name, like redis."
    )
  else if (!GROUP_NAME.test(securityGroupName) || /^sg-/i.test(securityGroupName))
    c.add(
      'security-group-name',
      `'${securityGroupName}' is not a valid security group name (1–255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, not starting with sg-). The guide uses redis.`
    )
  const instanceName = get('instance-name') || 'openemr-redis'
  if (instanceName.length > 256)
    c.add('instance-name', 'is longer than 256 characters, the limit of an EC2 tag value.')

  const deployment = get('deployment') || 'openemr-redis'
  if (!DEPLOYMENT.test(deployment))
    c.add(
      'deployment',
      `'${deployment}' is not a valid deployment name. Use 1–40 letters, digits, '.', '_' or '-', starting with a letter or digit, like openemr-redis or clinic-prod.`
    )

  const elasticIp = oneOf<ElasticIpPolicy>(
    c,
    'elastic-ip',
    get('elastic-ip'),
    ['keep', 'release', 'none'],
    'keep'
  )
  const sshVia = oneOf<SshVia>(c, 'ssh-via', get('ssh-via'), ['public', 'private'], 'public')

  const repo = repository(c, get('config-repository'))
  const pullRequest = boolean(c, 'pull-request', get('pull-request'), false)
  const token = read('github-token').trim()
  const path = configPath(c, get('config-path'))
  const configBranch = branch(c, get('config-branch'))
  const commitMessage = get('commit-message')
  if (commitMessage.length > 4096)
    c.add('commit-message', 'is longer than 4096 characters. Shorten it.')
  if (repo && token === '')
    c.add(
      'github-token',
      `config-repository is ${repo.owner}/${repo.repo} but no token is given. Leave github-token at its default (\${{ github.token }}) and grant the job contents: write.`
    )
  if (!repo && pullRequest)
    c.add(
      'pull-request',
      'is true but config-repository is empty, so there is nothing to open a pull request against. Set config-repository or drop pull-request.'
    )

  const settings: Settings = {
    mode,
    region: region(c, get('aws-region'), env),
    vpcId,
    subnetId: awsId(c, 'subnet-id', get('subnet-id'), 'subnet', 'subnet-0a1b2c3d4e5f67890'),
    instanceType,
    diskSizeGb: integer(
      c,
      'disk-size-gb',
      get('disk-size-gb'),
      8,
      8,
      16384,
      ' (Ubuntu images need at least 8 GiB)'
    ),
    amiId: awsId(c, 'ami-id', get('ami-id'), 'ami', 'ami-0a1b2c3d4e5f67890'),
    keyName,
    sshPrivateKey,
    sshUser,
    sshVia,
    sshCidr: sshCidr(c, get('ssh-cidr')),
    securityGroupName,
    instanceName,
    clientSecurityGroupId: awsId(
      c,
      'client-security-group-id',
      get('client-security-group-id'),
      'sg',
      'sg-0a1b2c3d4e5f67890'
    ),
    elasticIp,
    redisPort: integer(
      c,
      'redis-port',
      get('redis-port'),
      6379,
      1024,
      65535,
      ' (the redis user cannot bind ports below 1024)'
    ),
    redisPassword: password(c, read('redis-password').trim()),
    redisMaxmemory: memory(c, get('redis-maxmemory')),
    deployment,
    tags: tags(c, read('tags')),
    cleanupOnFailure: boolean(c, 'cleanup-on-failure', get('cleanup-on-failure'), true),
    timeoutSeconds: integer(
      c,
      'timeout-seconds',
      get('timeout-seconds'),
      900,
      60,
      21600,
      ' (a GitHub job runs at most 6 hours)'
    ),
    config: repo
      ? {
          ...repo,
          path,
          branch: configBranch,
          token,
          commitMessage,
          pullRequest
        }
      : undefined
  }
  if (c.problems.length > 0) throw new InputError(c.problems)
  return settings
}

import { createHash, scryptSync } from 'node:crypto'
import { isIPv4 } from 'node:net'
import { MAXMEMORY_AUTO_PLACEHOLDER, REDIS_AUTH_PATH, REDIS_LOG_PATH } from './paths.js'
import { PROVISION_SCRIPT } from './provision-script.js'

export interface RedisConfigInputs {
  /** The instance's private IPv4 address; Redis listens there and on loopback only. */
  privateIp: string
  port: number
  /** Empty or undefined: no password (the security group is the guard, as in the guide). */
  password?: string
  /** Bytes, or 'auto' for 75 % of the host's MemTotal, computed on the host by the script. */
  maxmemory: number | 'auto'
}

function check(inputs: RedisConfigInputs): void {
  const firstOctet = Number(inputs.privateIp.split('.')[0])
  // 0.0.0.0 would listen everywhere; loopback, multicast and broadcast are not a host address.
  if (!isIPv4(inputs.privateIp) || firstOctet === 0 || firstOctet === 127 || firstOctet >= 224)
    throw new Error(`'${inputs.privateIp}' is not a private IPv4 address Redis can bind`)
  if (!Number.isInteger(inputs.port) || inputs.port < 1 || inputs.port > 65535)
    throw new Error(`${inputs.port} is not a TCP port`)
  if (
    inputs.maxmemory !== 'auto' &&
    (!Number.isSafeInteger(inputs.maxmemory) || inputs.maxmemory < 1)
  )
    throw new Error(`${inputs.maxmemory} is not a maxmemory byte count`)
  // Same rule as the redis-password input: also keeps the value one token in redis.conf.
  if (inputs.password && !/^[A-Za-z0-9._~-]+$/.test(inputs.password))
    throw new Error('the Redis password may only contain letters, digits and - . _ ~')
}

/**
 * The complete redis.conf. It never contains the password or anything derived from it: with a
 * password set it includes REDIS_AUTH_PATH, which renderRedisAuthConf fills.
 */
export function renderRedisConf(inputs: RedisConfigInputs): string {
  check(inputs)
  const hasPassword = Boolean(inputs.password)
  const maxmemory =
    inputs.maxmemory === 'auto' ? MAXMEMORY_AUTO_PLACEHOLDER : String(inputs.maxmemory)
  const lines = [
    '# Written by openemr-redis-action. Local edits are replaced on the next run.',
    '',
    '# Network: the private address (the app servers, filtered by the security group) and',
    '# loopback (redis-cli on the host). Never 0.0.0.0 or a public address.',
    `bind ${inputs.privateIp} 127.0.0.1`,
    `port ${inputs.port}`,
    hasPassword
      ? '# With a password the default user is no longer "nopass", so protected mode lets'
      : '# Without a password Redis 7 would refuse every non-loopback client in protected mode,',
    hasPassword
      ? '# authenticated remote clients in; keep it on.'
      : '# even with an explicit bind. The security group and the bind above are the guard.',
    `protected-mode ${hasPassword ? 'yes' : 'no'}`,
    'tcp-backlog 511',
    'timeout 0',
    'tcp-keepalive 60',
    '',
    '# Process: the distribution unit (redis-server.service) supervises it.',
    'daemonize no',
    'supervised systemd',
    'pidfile /run/redis/redis-server.pid',
    'loglevel notice',
    `logfile ${REDIS_LOG_PATH}`,
    'databases 16',
    '',
    '# Memory: PHP session keys always carry a TTL (session.gc_maxlifetime), reset on every',
    '# request, so the remaining TTL measures how long a session has been idle. volatile-ttl',
    '# evicts the sessions closest to expiring anyway; keys without a TTL are never evicted.',
    `maxmemory ${maxmemory}`,
    'maxmemory-policy volatile-ttl',
    '',
    '# Persistence: RDB snapshots on the instance disk, so a restart keeps people logged in.',
    'save 3600 1',
    'save 300 100',
    'save 60 10000',
    '# Sessions are disposable; a failed snapshot (disk full) must not stop logins.',
    'stop-writes-on-bgsave-error no',
    'rdbcompression yes',
    'rdbchecksum yes',
    'dbfilename dump.rdb',
    'dir /var/lib/redis',
    'appendonly no',
    '',
    '# Access: commands in @dangerous (CONFIG, FLUSHALL, DEBUG, MODULE, …) are what turns an',
    '# open Redis into a foothold on the host; sessions need none of them.'
  ]
  if (hasPassword) lines.push(`include ${REDIS_AUTH_PATH}`)
  else lines.push('user default on nopass ~* +@all -@dangerous')
  return lines.join('\n') + '\n'
}

/**
 * The file holding the default user's credentials. Redis accepts a SHA-256 of the password
 * (`#<hex>`), so not even this file holds it in clear; AUTH <password> works as with requirepass.
 */
export function renderRedisAuthConf(password: string): string {
  if (!password) throw new Error('renderRedisAuthConf needs a password')
  const digest = createHash('sha256').update(password, 'utf8').digest('hex')
  return (
    '# Written by openemr-redis-action: the default user, with a password (stored hashed).\n' +
    `user default on #${digest} ~* +@all -@dangerous\n`
  )
}

/**
 * A short, stable digest of everything the provisioning run installs, for an instance tag:
 * equal digests mean a re-run would change nothing. Tag values are readable by anyone with
 * ec2:DescribeTags, so the password enters only through scrypt: a published digest must not
 * be a fast oracle for guessing it. The provisioning script is hashed in too: a new release
 * that tunes the host differently re-provisions instead of skipping.
 */
export function configHash(inputs: RedisConfigInputs): string {
  const hash = createHash('sha256')
  hash.update('openemr-redis-config/v1\0')
  hash.update(renderRedisConf(inputs))
  hash.update('\0')
  if (inputs.password)
    hash.update(scryptSync(inputs.password, 'openemr-redis-config-hash', 32, { N: 2 ** 14 }))
  hash.update('\0')
  hash.update(PROVISION_SCRIPT)
  return hash.digest('hex').slice(0, 16)
}

import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import {
  configHash,
  renderRedisAuthConf,
  renderRedisConf,
  type RedisConfigInputs
} from '../../src/redis/config.js'
import { MAXMEMORY_AUTO_PLACEHOLDER, REDIS_AUTH_PATH } from '../../src/redis/paths.js'

const PASSWORD = 'Zq8-xY7_wV6.uT5~sR4pQ3'
const base: RedisConfigInputs = { privateIp: '10.0.1.4', port: 6379, maxmemory: 536870912 }

/** redis.conf as directive → list of argument strings (comments and blank lines dropped). */
function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const [name, ...args] = trimmed.split(/\s+/)
    map.set(name, [...(map.get(name) ?? []), args.join(' ')])
  }
  return map
}

describe('renderRedisConf without a password (the guide: the security group is the guard)', () => {
  const d = directives(renderRedisConf(base))

  it('binds only the private address and loopback, with protected mode off', () => {
    expect(d.get('bind')).toEqual(['10.0.1.4 127.0.0.1'])
    expect(d.get('protected-mode')).toEqual(['no'])
    expect(d.get('port')).toEqual(['6379'])
  })

  it('keeps dangerous commands away from the password-less default user', () => {
    expect(d.get('user')).toEqual(['default on nopass ~* +@all -@dangerous'])
    expect(d.has('include')).toBe(false)
    expect(d.has('requirepass')).toBe(false)
  })

  it('sets the tuning, persistence and supervision the host needs', () => {
    const expected: Record<string, string[]> = {
      'tcp-backlog': ['511'],
      timeout: ['0'],
      'tcp-keepalive': ['60'],
      daemonize: ['no'],
      supervised: ['systemd'],
      logfile: ['/var/log/redis/redis-server.log'],
      maxmemory: ['536870912'],
      'maxmemory-policy': ['volatile-ttl'],
      save: ['3600 1', '300 100', '60 10000'],
      dir: ['/var/lib/redis'],
      dbfilename: ['dump.rdb'],
      appendonly: ['no']
    }
    for (const [name, value] of Object.entries(expected))
      expect([name, d.get(name)]).toEqual([name, value])
  })

  it('declares each directive once, except save', () => {
    const text = renderRedisConf(base)
    const names = text
      .split('\n')
      .filter(l => l && !l.startsWith('#'))
      .map(l => l.split(' ')[0])
    const repeated = names.filter((n, i) => names.indexOf(n) !== i)
    expect([...new Set(repeated)]).toEqual(['save'])
  })
})

describe('renderRedisConf with a password', () => {
  const text = renderRedisConf({ ...base, password: PASSWORD })
  const d = directives(text)

  it('keeps protected mode on and includes the credentials file', () => {
    expect(d.get('protected-mode')).toEqual(['yes'])
    expect(d.get('include')).toEqual([REDIS_AUTH_PATH])
    expect(d.has('user')).toBe(false)
    expect(d.get('bind')).toEqual(['10.0.1.4 127.0.0.1'])
  })

  it('contains neither the password nor its hash', () => {
    const digest = createHash('sha256').update(PASSWORD).digest('hex')
    expect(text).not.toContain(PASSWORD)
    expect(text).not.toContain(digest)
  })
})

describe('renderRedisAuthConf', () => {
  it('gives the default user the password as a SHA-256, and no dangerous commands', () => {
    const text = renderRedisAuthConf(PASSWORD)
    const digest = createHash('sha256').update(PASSWORD).digest('hex')
    expect(directives(text).get('user')).toEqual([`default on #${digest} ~* +@all -@dangerous`])
    expect(text).not.toContain(PASSWORD)
  })

  it('needs a password', () => {
    expect(() => renderRedisAuthConf('')).toThrow()
  })
})

describe('maxmemory auto', () => {
  it('leaves the byte count to the host, as a placeholder the script replaces', () => {
    const d = directives(renderRedisConf({ ...base, maxmemory: 'auto' }))
    expect(d.get('maxmemory')).toEqual([MAXMEMORY_AUTO_PLACEHOLDER])
  })
})

describe('input checks', () => {
  it.each([
    [{ privateIp: '0.0.0.0' }, /private IPv4/],
    [{ privateIp: '127.0.0.1' }, /private IPv4/],
    [{ privateIp: '255.255.255.255' }, /private IPv4/],
    [{ privateIp: '10.0.1.4 0.0.0.0' }, /private IPv4/],
    [{ privateIp: 'fd00::4' }, /private IPv4/],
    [{ port: 0 }, /TCP port/],
    [{ port: 70000 }, /TCP port/],
    [{ maxmemory: -1 }, /maxmemory/],
    [{ maxmemory: 1.5 }, /maxmemory/],
    [{ password: 'has space\ninclude /etc/passwd' }, /letters, digits/]
  ])('refuses %o', (override, message) => {
    expect(() => renderRedisConf({ ...base, ...(override as Partial<RedisConfigInputs>) })).toThrow(
      message
    )
  })
})

describe('configHash', () => {
  it('is 16 hex digits and stable for equal inputs', () => {
    const a = configHash({ ...base, password: PASSWORD })
    expect(a).toMatch(/^[0-9a-f]{16}$/)
    expect(configHash({ ...base, password: PASSWORD })).toBe(a)
  })

  it('changes with every input, including the password', () => {
    const hashes = [
      configHash(base),
      configHash({ ...base, privateIp: '10.0.1.5' }),
      configHash({ ...base, port: 6380 }),
      configHash({ ...base, maxmemory: 'auto' }),
      configHash({ ...base, maxmemory: 536870913 }),
      configHash({ ...base, password: PASSWORD }),
      configHash({ ...base, password: PASSWORD + 'x' })
    ]
    expect(new Set(hashes).size).toBe(hashes.length)
  })

  it('treats an empty password as none', () => {
    expect(configHash({ ...base, password: '' })).toBe(configHash(base))
  })

  it('is not a plain digest of the password (a tag must not be a fast guessing oracle)', () => {
    const hash = configHash({ ...base, password: PASSWORD })
    const plain = createHash('sha256').update(PASSWORD).digest('hex')
    expect(hash).not.toContain(plain.slice(0, 16))
    expect(hash).not.toContain(PASSWORD)
  })
})

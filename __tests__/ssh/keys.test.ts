import { describe, expect, it } from '@jest/globals'
import ssh2 from 'ssh2'
import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { parse } from 'yaml'
import {
  fingerprint,
  generateEd25519KeyPair,
  normalizeFingerprint,
  parseConsoleFingerprints,
  parseConsoleHostKeys,
  publicKeyFromPrivate,
  renderCloudConfig
} from '../../src/ssh/keys.js'

// Public keys made with ssh-keygen, and the fingerprints `ssh-keygen -lf` printed for them.
const KNOWN = [
  {
    line: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGW5XVTRq8DxcGBYrLl3OQ4bpOUp+9zeHVk0ZujwIJS0 fixture-ed25519',
    fingerprint: 'SHA256:qBD28C9bvMDjYS4Swr/AcEObJ5HKuimu4JFJAesPI/M'
  },
  {
    line: 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIEwKvEASSqOufy93EupKfN8WPSaAHuVfWjksL9a+VuIxSzVRAkaxL6hfl2f83exKi03e55sZXLzEBMMu/PekAA= fixture-ecdsa',
    fingerprint: 'SHA256:KQH9Frgrd/pc9UoDPWFxW8+4fUekH6IhPBPTGOnveiM'
  },
  {
    line: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDX3QNVpgL1I8V9angaw6REJQZn0ad/nIeuoZ7Kd59PNQrzb6cUvBN3c6wiE0fPiPKNj6qtuR7HgbJHKcR3TzOJi/Pw0A/iq3VmXcICJIt0AhSOLiQ4GZQt6fhN5mln2BEaz4Q/erTvT9uedcYD4Te5vloc+G+7Zsqzuq9hEVtI2PcbPw78nUHeZGytbFNRo6u4KMxuE8i5wDELoRo36bWhwIwbXmZMM++9n6NDGtLPuGlRyW8CJ6jx+26nSTEiiMEqtu1OiNibPVWcCz/B1VB7OlhmC3kfvbxeEHtIPyfhcVNLHbWGz0awzijEg3nLTnm1Q+vJMr3EUsHFGoArgDYr fixture-rsa',
    fingerprint: 'SHA256:xqP05f2/7j67auRl4115RifYIlwQcXwF7uUfbAW9LDQ'
  }
]

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length)
  return Buffer.concat([len, body])
}

// SSH mpint: big-endian, with a leading zero byte when the high bit is set.
function mpint(b: Buffer): Buffer {
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  const trimmed = b.subarray(i)
  return sshString(trimmed[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), trimmed]) : trimmed)
}

/** Reads the openssh-key-v1 structure back, independently of the encoder. */
function decodeOpenSshKey(text: string) {
  const body = Buffer.from(
    text.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, '').replace(/\s+/g, ''),
    'base64'
  )
  let at = 0
  const take = (n: number) => body.subarray(at, (at += n))
  const str = () => take(take(4).readUInt32BE())
  const magic = take(15).toString('latin1')
  const cipher = str().toString()
  const kdf = str().toString()
  const kdfOptions = str()
  const count = take(4).readUInt32BE()
  const publicBlob = str()
  const privateSection = str()
  return {
    magic,
    cipher,
    kdf,
    kdfOptions,
    count,
    publicBlob,
    privateSection,
    rest: body.length - at
  }
}

describe('generateEd25519KeyPair', () => {
  it('makes 2000 keys that ssh2 parses, signs with and verifies, with consistent public halves', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 2000; i++) {
      const pair = generateEd25519KeyPair(`k${i}`)
      const parsed = ssh2.utils.parseKey(pair.privateKey)
      if (parsed instanceof Error) throw new Error(`key ${i} did not parse: ${parsed.message}`)
      const key = Array.isArray(parsed) ? parsed[0] : parsed
      expect(key.type).toBe('ssh-ed25519')
      expect(key.isPrivateKey()).toBe(true)
      expect(key.comment).toBe(`k${i}`)

      const publicParsed = ssh2.utils.parseKey(pair.publicKey)
      if (publicParsed instanceof Error) throw new Error(`public key ${i}: ${publicParsed.message}`)
      const pub = Array.isArray(publicParsed) ? publicParsed[0] : publicParsed
      expect(pub.getPublicSSH().equals(key.getPublicSSH())).toBe(true)

      const data = Buffer.from(`payload ${i}`)
      const signature = key.sign(data)
      expect(pub.verify(data, signature)).toBe(true)
      expect(pub.verify(Buffer.from('other'), signature)).toBe(false)

      expect(pair.fingerprint).toBe(fingerprint(key.getPublicSSH()))
      seen.add(pair.fingerprint)
    }
    expect(seen.size).toBe(2000)
  })

  it('encodes the openssh-key-v1 layout: no cipher, one key, matching check ints, 1,2,3… padding', () => {
    for (let i = 0; i < 50; i++) {
      const comment = 'x'.repeat(i)
      const pair = generateEd25519KeyPair(comment)
      const lines = pair.privateKey.trimEnd().split('\n')
      expect(lines[0]).toBe('-----BEGIN OPENSSH PRIVATE KEY-----')
      expect(lines.at(-1)).toBe('-----END OPENSSH PRIVATE KEY-----')
      for (const l of lines.slice(1, -2)) expect(l).toHaveLength(70)
      expect(pair.privateKey.endsWith('\n')).toBe(true)

      const k = decodeOpenSshKey(pair.privateKey)
      expect(k.magic).toBe('openssh-key-v1\0')
      expect([k.cipher, k.kdf, k.kdfOptions.length, k.count, k.rest]).toEqual([
        'none',
        'none',
        0,
        1,
        0
      ])
      expect(k.publicBlob.equals(Buffer.from(pair.publicKey.split(' ')[1], 'base64'))).toBe(true)
      expect(k.privateSection.length % 8).toBe(0)
      expect(k.privateSection.readUInt32BE(0)).toBe(k.privateSection.readUInt32BE(4))
      const unpadded = 8 + (4 + 11) + (4 + 32) + (4 + 64) + (4 + comment.length)
      const padding = k.privateSection.subarray(unpadded)
      expect([...padding]).toEqual(Array.from({ length: padding.length }, (_, j) => j + 1))
      expect(padding.length).toBeLessThan(8)
    }
  })

  it('writes the public line as "ssh-ed25519 <base64> comment", without a comment when none is given', () => {
    expect(generateEd25519KeyPair('host@x').publicKey).toMatch(
      /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} host@x$/
    )
    expect(generateEd25519KeyPair().publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]{68}$/)
    expect(() => generateEd25519KeyPair('a\nb')).toThrow(/line break/)
  })
})

describe('fingerprint', () => {
  it.each(KNOWN)('matches ssh-keygen -lf for $fingerprint', ({ line, fingerprint: expected }) => {
    expect(fingerprint(line)).toBe(expected)
    expect(fingerprint(Buffer.from(line.split(' ')[1], 'base64'))).toBe(expected)
    expect(fingerprint(`no-pty,from="10.0.0.1" ${line}`)).toBe(expected)
  })

  it('rejects text that is not a public key line', () => {
    expect(() => fingerprint('hello world')).toThrow(/not an OpenSSH public key/)
    expect(() => fingerprint('ssh-ed25519 !!!')).toThrow(/not an OpenSSH public key/)
  })

  it('normalizes pins given without prefix or with base64 padding', () => {
    const f = KNOWN[0].fingerprint
    expect(normalizeFingerprint(f.slice(7))).toBe(f)
    expect(normalizeFingerprint(` ${f}= `)).toBe(f)
  })
})

describe('publicKeyFromPrivate', () => {
  it('derives the public line of an ed25519 key in OpenSSH format', () => {
    const pair = generateEd25519KeyPair('c')
    expect(publicKeyFromPrivate(pair.privateKey)).toBe(pair.publicKey.replace(/ c$/, ''))
    expect(publicKeyFromPrivate(pair.privateKey.replace(/\n/g, '\r\n'))).toBe(
      pair.publicKey.replace(/ c$/, '')
    )
  })

  it('derives the public line of an RSA key in PEM (PKCS#1) format', () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' }
    })
    const jwk = createPrivateKey(privateKey).export({ format: 'jwk' })
    const blob = Buffer.concat([
      sshString('ssh-rsa'),
      mpint(Buffer.from(jwk.e!, 'base64url')),
      mpint(Buffer.from(jwk.n!, 'base64url'))
    ])
    expect(publicKeyFromPrivate(privateKey)).toBe(`ssh-rsa ${blob.toString('base64')}`)
  })

  it('derives the public line of an ECDSA P-256 key in PEM (SEC1) format', () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'sec1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' }
    })
    const jwk = createPrivateKey(privateKey).export({ format: 'jwk' })
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x!, 'base64url'),
      Buffer.from(jwk.y!, 'base64url')
    ])
    const blob = Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(point)
    ])
    expect(publicKeyFromPrivate(privateKey)).toBe(`ecdsa-sha2-nistp256 ${blob.toString('base64')}`)
  })

  it('refuses public keys and garbage', () => {
    expect(() => publicKeyFromPrivate(KNOWN[0].line)).toThrow(/not a private key/)
    expect(() => publicKeyFromPrivate('nonsense')).toThrow(/does not parse/)
  })
})

describe('renderCloudConfig', () => {
  const host = generateEd25519KeyPair('openemr-redis-host')
  const client = generateEd25519KeyPair('runner')

  it('is a #cloud-config document that delivers exactly the keys given', () => {
    const text = renderCloudConfig({
      authorizedKeys: [client.publicKey, KNOWN[2].line],
      hostKey: host
    })
    expect(text.startsWith('#cloud-config\n')).toBe(true)
    expect(parse(text)).toEqual({
      ssh_authorized_keys: [client.publicKey, KNOWN[2].line],
      ssh_deletekeys: true,
      ssh_genkeytypes: [],
      ssh_keys: { ed25519_private: host.privateKey, ed25519_public: host.publicKey }
    })
    const parsed = ssh2.utils.parseKey(parse(text).ssh_keys.ed25519_private)
    expect(parsed instanceof Error).toBe(false)
  })

  it('omits ssh_authorized_keys when EC2 installs the key pair instead', () => {
    const doc = parse(renderCloudConfig({ authorizedKeys: [], hostKey: host }))
    expect(doc).not.toHaveProperty('ssh_authorized_keys')
    expect(doc.ssh_genkeytypes).toEqual([])
  })

  it('keeps a hostile key comment inside its string', () => {
    const evil = `${client.publicKey.split(' ').slice(0, 2).join(' ')} x"\nruncmd: [touch /pwned] #'`
    const doc = parse(renderCloudConfig({ authorizedKeys: [evil], hostKey: host }))
    expect(Object.keys(doc).sort()).toEqual([
      'ssh_authorized_keys',
      'ssh_deletekeys',
      'ssh_genkeytypes',
      'ssh_keys'
    ])
    expect(doc.ssh_authorized_keys).toEqual([evil])
  })

  it('refuses a host key that is not ed25519 in OpenSSH form', () => {
    expect(() =>
      renderCloudConfig({
        authorizedKeys: [],
        hostKey: { privateKey: host.privateKey, publicKey: KNOWN[2].line }
      })
    ).toThrow(/ed25519/)
    expect(() =>
      renderCloudConfig({
        authorizedKeys: [],
        hostKey: { privateKey: 'PRIVATE', publicKey: host.publicKey }
      })
    ).toThrow(/OpenSSH format/)
    expect(() => renderCloudConfig({ authorizedKeys: ['not a key'], hostKey: host })).toThrow(
      /not an OpenSSH public key/
    )
  })
})

describe('parseConsoleFingerprints', () => {
  const ed = 'SHA256:qBD28C9bvMDjYS4Swr/AcEObJ5HKuimu4JFJAesPI/M'
  const ec = 'SHA256:KQH9Frgrd/pc9UoDPWFxW8+4fUekH6IhPBPTGOnveiM'
  const rsa = 'SHA256:xqP05f2/7j67auRl4115RifYIlwQcXwF7uUfbAW9LDQ'
  const block = (prefix: string, keys: string[]) =>
    [
      `${prefix}#############################################################`,
      `${prefix}-----BEGIN SSH HOST KEY FINGERPRINTS-----`,
      ...keys.map(k => `${prefix}${k}`),
      `${prefix}-----END SSH HOST KEY FINGERPRINTS-----`,
      `${prefix}#############################################################`
    ].join('\n')

  it('reads the ec2: lines cloud-init prints, ED25519 first', () => {
    const console = [
      '[   12.3] cloud-init[812]: Cloud-init v. 24.1.3 running modules:final',
      block('ec2: ', [
        `256 ${ec} root@ip-10-0-1-4 (ECDSA)`,
        `256 ${ed} root@ip-10-0-1-4 (ED25519)`,
        `3072 ${rsa} root@ip-10-0-1-4 (RSA)`
      ]),
      '-----BEGIN SSH HOST KEY KEYS-----',
      KNOWN[0].line,
      '-----END SSH HOST KEY KEYS-----'
    ].join('\r\n')
    expect(parseConsoleFingerprints(console)).toEqual([ed, ec, rsa])
    expect(parseConsoleHostKeys(console)[0]).toEqual({
      fingerprint: ed,
      type: 'ED25519',
      bits: 256
    })
  })

  it('reads syslog-prefixed lines and takes the last complete block (the current boot)', () => {
    const console = [
      block('<14>Jun  1 12:00:00 cloud-init: ', [`256 ${ec} root@old (ECDSA)`]),
      'reboot',
      block('<14>Jun  1 12:09:00 cloud-init: ', [`256 ${ed} root@ip-10-0-1-4 (ED25519)`]),
      '<14>Jun  1 12:19:00 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
      `<14>Jun  1 12:19:00 cloud-init: 256 ${rsa} root@cut (RSA)`
    ].join('\n')
    expect(parseConsoleFingerprints(console)).toEqual([ed])
  })

  it('accepts the base64 that GetConsoleOutput returns', () => {
    const console = block('ec2: ', [`256 ${ed} root@h (ED25519)`])
    expect(parseConsoleFingerprints(Buffer.from(console).toString('base64'))).toEqual([ed])
  })

  it('is empty before cloud-init printed the block', () => {
    expect(parseConsoleFingerprints('')).toEqual([])
    expect(parseConsoleFingerprints('[    0.000000] Linux version 6.8.0\n')).toEqual([])
  })
})

import ssh2 from 'ssh2'
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'

/** An ed25519 key pair in the two text forms OpenSSH reads. */
export interface SshKeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` text, unencrypted, ending in a newline. */
  privateKey: string
  /** `ssh-ed25519 AAAA… comment`, one line, no newline. */
  publicKey: string
  /** `SHA256:…` exactly as `ssh-keygen -lf` prints it. */
  fingerprint: string
}

const ED25519 = 'ssh-ed25519'
const AUTH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1')

function sshString(value: Buffer | string): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  const length = Buffer.alloc(4)
  length.writeUInt32BE(body.length)
  return Buffer.concat([length, body])
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(value)
  return b
}

function ed25519Blob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString(ED25519), sshString(publicKey)])
}

function wrap(base64: string, width: number): string {
  const lines: string[] = []
  for (let i = 0; i < base64.length; i += width) lines.push(base64.slice(i, i + width))
  return lines.join('\n')
}

/**
 * Encodes an unencrypted "openssh-key-v1" private key (PROTOCOL.key in OpenSSH's sources):
 * cipher and KDF "none", one key, and a private section padded to the 8-byte block size.
 */
function encodeOpenSshPrivateKey(seed: Buffer, publicKey: Buffer, comment: string): string {
  const check = randomBytes(4)
  let privateSection = Buffer.concat([
    check,
    check,
    sshString(ED25519),
    sshString(publicKey),
    // OpenSSH stores the 64-byte "secret key" of ed25519 as seed followed by public key.
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment)
  ])
  const padding = (8 - (privateSection.length % 8)) % 8
  privateSection = Buffer.concat([
    privateSection,
    Buffer.from(Array.from({ length: padding }, (_, i) => i + 1))
  ])
  const body = Buffer.concat([
    AUTH_MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(ed25519Blob(publicKey)),
    sshString(privateSection)
  ])
  return (
    '-----BEGIN OPENSSH PRIVATE KEY-----\n' +
    wrap(body.toString('base64'), 70) +
    '\n-----END OPENSSH PRIVATE KEY-----\n'
  )
}

/**
 * A fresh ed25519 key pair. Node's own generator is used because ssh2 1.17's returns a
 * malformed key about once in 200 runs; the OpenSSH encoding is done here.
 */
export function generateEd25519KeyPair(comment = ''): SshKeyPair {
  if (/[\r\n]/.test(comment)) throw new Error('an SSH key comment cannot contain a line break')
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  if (!jwk.d || !jwk.x) throw new Error('Node did not export the ed25519 key as a JWK')
  const seed = Buffer.from(jwk.d, 'base64url')
  const pub = Buffer.from(jwk.x, 'base64url')
  if (seed.length !== 32 || pub.length !== 32)
    throw new Error(`unexpected ed25519 key sizes ${seed.length}/${pub.length}`)
  const blob = ed25519Blob(pub)
  const publicKey = `${ED25519} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`
  return {
    privateKey: encodeOpenSshPrivateKey(seed, pub, comment),
    publicKey,
    fingerprint: fingerprint(blob)
  }
}

/** The base64 key blob of an `algorithm AAAA… [comment]` line. */
function blobOfLine(line: string): Buffer {
  const parts = line.trim().split(/\s+/)
  // authorized_keys lines may start with options; the blob follows the key type.
  const typeIndex = parts.findIndex(p => /^(ssh-|ecdsa-sha2-|sk-)/.test(p))
  const encoded = typeIndex >= 0 ? parts[typeIndex + 1] : undefined
  if (!encoded || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded))
    throw new Error('not an OpenSSH public key line (expected "type AAAA… [comment]")')
  return Buffer.from(encoded, 'base64')
}

/**
 * The SHA256 fingerprint of a public key, in the form `ssh-keygen -lf` and cloud-init print:
 * `SHA256:` followed by unpadded base64. Accepts a public key line or the raw key blob.
 */
export function fingerprint(publicKeyLineOrBlob: string | Buffer): string {
  const blob =
    typeof publicKeyLineOrBlob === 'string' ? blobOfLine(publicKeyLineOrBlob) : publicKeyLineOrBlob
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** Fingerprints compare exactly, apart from a missing `SHA256:` prefix or base64 padding. */
export function normalizeFingerprint(value: string): string {
  const trimmed = value.trim().replace(/=+$/, '')
  return trimmed.startsWith('SHA256:') ? trimmed : `SHA256:${trimmed}`
}

/**
 * The `type AAAA…` public key line of a user-provided private key (RSA, ECDSA or ed25519, in
 * OpenSSH or PEM form), so it can be compared with the EC2 key pair or put in authorized_keys.
 */
export function publicKeyFromPrivate(privateKeyText: string): string {
  const parsed = ssh2.utils.parseKey(privateKeyText.replace(/\r\n/g, '\n'))
  if (parsed instanceof Error)
    throw new Error(`the SSH private key does not parse: ${parsed.message}`)
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  if (!key || !key.isPrivateKey()) throw new Error('the SSH key is not a private key')
  return `${key.type} ${key.getPublicSSH().toString('base64')}`
}

export interface CloudConfigOptions {
  /** Public key lines for the login user; empty when EC2 installs the key pair's key. */
  authorizedKeys: string[]
  /** The instance's ed25519 host key, generated here so its fingerprint is known in advance. */
  hostKey: { privateKey: string; publicKey: string }
}

// JSON strings are YAML double-quoted scalars, so no value can break out of its field.
const yamlString = (value: string) => JSON.stringify(value)

/**
 * The `#cloud-config` user-data that installs the host key and the client key. cloud-init
 * deletes the image's host keys and generates none, so the delivered key is the only one sshd
 * can present. The host private key is the one secret here, by design: it only lets someone
 * who can already read user-data impersonate this host, and nothing else is ever added.
 */
export function renderCloudConfig(options: CloudConfigOptions): string {
  const { authorizedKeys, hostKey } = options
  for (const key of [...authorizedKeys, hostKey.publicKey]) blobOfLine(key)
  if (!hostKey.publicKey.trim().startsWith(`${ED25519} `))
    throw new Error('the host key must be an ed25519 key')
  const privateKey = hostKey.privateKey.replace(/\r\n/g, '\n').trim()
  if (
    !/^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END OPENSSH PRIVATE KEY-----$/.test(
      privateKey
    )
  )
    throw new Error('the host private key must be in OpenSSH format')
  const lines = ['#cloud-config']
  if (authorizedKeys.length > 0) {
    lines.push('ssh_authorized_keys:')
    for (const key of authorizedKeys) lines.push(`  - ${yamlString(key.trim())}`)
  }
  lines.push(
    'ssh_deletekeys: true',
    'ssh_genkeytypes: []',
    'ssh_keys:',
    '  ed25519_private: |',
    ...privateKey.split('\n').map(l => `    ${l}`),
    `  ed25519_public: ${yamlString(hostKey.publicKey.trim())}`
  )
  return lines.join('\n') + '\n'
}

export interface ConsoleHostKey {
  /** `SHA256:…` */
  fingerprint: string
  /** Key type as cloud-init prints it: ED25519, ECDSA, RSA. */
  type: string
  bits: number
}

const BEGIN_FINGERPRINTS = '-----BEGIN SSH HOST KEY FINGERPRINTS-----'
const END_FINGERPRINTS = '-----END SSH HOST KEY FINGERPRINTS-----'
const FINGERPRINT_LINE = /(\d+)\s+(SHA256:[A-Za-z0-9+/]{43})\s.*\((\w+)\)\s*$/

function fingerprintBlocks(text: string): ConsoleHostKey[][] {
  const blocks: ConsoleHostKey[][] = []
  let current: ConsoleHostKey[] | undefined
  for (const line of text.split(/\r?\n/)) {
    if (line.includes(BEGIN_FINGERPRINTS)) current = []
    else if (line.includes(END_FINGERPRINTS)) {
      if (current) blocks.push(current)
      current = undefined
    } else if (current) {
      const m = FINGERPRINT_LINE.exec(line)
      if (m) current.push({ bits: Number(m[1]), fingerprint: m[2], type: m[3].toUpperCase() })
    }
  }
  return blocks
}

/**
 * The host keys cloud-init printed to the serial console, from the last complete
 * `BEGIN SSH HOST KEY FINGERPRINTS` block (the current boot's keys), ED25519 first. Accepts the
 * console text or the base64 that GetConsoleOutput returns. Empty when no block is there yet.
 */
export function parseConsoleHostKeys(consoleOutput: string): ConsoleHostKey[] {
  let blocks = fingerprintBlocks(consoleOutput)
  const compact = consoleOutput.replace(/\s+/g, '')
  if (blocks.length === 0 && compact.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact))
    blocks = fingerprintBlocks(Buffer.from(compact, 'base64').toString('utf8'))
  const keys = blocks.length > 0 ? blocks[blocks.length - 1] : []
  const rank = (k: ConsoleHostKey) => (k.type === 'ED25519' ? 0 : 1)
  return [...keys].sort((a, b) => rank(a) - rank(b))
}

/** The fingerprints of parseConsoleHostKeys, ready for connectPinned's hostKeyFingerprints. */
export function parseConsoleFingerprints(consoleOutput: string): string[] {
  return parseConsoleHostKeys(consoleOutput).map(k => k.fingerprint)
}

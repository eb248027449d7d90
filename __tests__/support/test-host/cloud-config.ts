// The part of cloud-init the test host stands in for: reading a #cloud-config document and
// saying which SSH files it puts on the instance. Pure, so it is unit-testable anywhere.
import { parse } from 'yaml'

export interface HostKeyFile {
  /** File name under /etc/ssh, e.g. ssh_host_ed25519_key or ssh_host_ed25519_key.pub. */
  name: string
  content: string
}

export interface CloudConfigFiles {
  /** Lines for the login user's ~/.ssh/authorized_keys (`ssh_authorized_keys`). */
  authorizedKeys: string[]
  /** Host keys from `ssh_keys`; empty means cloud-init would generate fresh ones. */
  hostKeys: HostKeyFile[]
  /** Top-level keys present in the document that the harness does not apply. */
  ignoredKeys: string[]
}

// cloud-init's cc_ssh CONFIG_KEY_TO_FILE, without the certificates (which would also need
// sshd_config changes the harness does not make).
const HOST_KEY_TYPES = ['rsa', 'ecdsa', 'ed25519'] as const
const APPLIED = new Set(['ssh_authorized_keys', 'ssh_keys'])

export function cloudConfigFiles(userData: string | undefined): CloudConfigFiles {
  if (userData === undefined || userData.trim() === '') {
    return { authorizedKeys: [], hostKeys: [], ignoredKeys: [] }
  }
  if (!/^#cloud-config[ \t]*\r?\n/.test(userData + '\n')) {
    // A shell script, MIME multipart or gzip would make cloud-init do things the harness
    // cannot imitate; failing loudly beats a test that silently provisions differently.
    throw new Error('test host user-data must be a #cloud-config document')
  }
  const doc: unknown = parse(userData)
  if (doc === null || doc === undefined)
    return { authorizedKeys: [], hostKeys: [], ignoredKeys: [] }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error('#cloud-config user-data must be a YAML mapping')
  }
  const config = doc as Record<string, unknown>

  const authorizedKeys = stringList(config.ssh_authorized_keys, 'ssh_authorized_keys').map(k =>
    k.trim()
  )

  const hostKeys: HostKeyFile[] = []
  if (config.ssh_keys !== undefined && config.ssh_keys !== null) {
    if (typeof config.ssh_keys !== 'object' || Array.isArray(config.ssh_keys)) {
      throw new Error(
        'ssh_keys must be a mapping such as { ed25519_private: ..., ed25519_public: ... }'
      )
    }
    for (const [key, value] of Object.entries(config.ssh_keys as Record<string, unknown>)) {
      const match = /^(rsa|ecdsa|ed25519)_(private|public)$/.exec(key)
      if (!match) {
        throw new Error(
          `ssh_keys.${key} is not supported (use ${HOST_KEY_TYPES.map(t => `${t}_private/${t}_public`).join(', ')})`
        )
      }
      if (typeof value !== 'string') throw new Error(`ssh_keys.${key} must be a string`)
      const base = `ssh_host_${match[1]}_key`
      hostKeys.push({
        name: match[2] === 'public' ? `${base}.pub` : base,
        content: value.endsWith('\n') ? value : `${value}\n`
      })
    }
  }

  const ignoredKeys = Object.keys(config).filter(k => !APPLIED.has(k))
  return { authorizedKeys, hostKeys, ignoredKeys }
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return []
  if (typeof value === 'string') return [value]
  if (Array.isArray(value) && value.every(v => typeof v === 'string')) return value
  throw new Error(`${name} must be a list of strings`)
}

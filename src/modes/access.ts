import { getConsoleOutput, type InstanceSummary } from '../aws/instance.js'
import { tagValue } from '../aws/tags.js'
import { configHash } from '../redis/config.js'
import {
  generateEd25519KeyPair,
  parseConsoleFingerprints,
  publicKeyFromPrivate,
  renderCloudConfig
} from '../ssh/keys.js'
import type { Settings } from '../inputs.js'
import type { RunContext } from './context.js'

/** SHA256 fingerprint of the host key delivered at launch: every connection is checked against it. */
export const HOST_KEY_TAG = 'openemr-redis:host-key'
/** Hash of the provisioned Redis configuration: equal means a re-run needs no SSH at all. */
export const CONFIG_HASH_TAG = 'openemr-redis:config-hash'

export interface SshAccess {
  privateKey: string
  hostKeyFingerprints: string[]
}

/**
 * Keys for a new instance: the client key (the user's, or one made for this run and never
 * stored) and a host key made here, so the first connection is already verified. Only public
 * halves and the host key go into user-data; no Redis or GitHub secret ever does.
 */
export function launchAccess(settings: Settings): { access: SshAccess; userData: string } {
  const hostKey = generateEd25519KeyPair('openemr-redis-host')
  const client = settings.sshPrivateKey
    ? {
        privateKey: settings.sshPrivateKey,
        publicKey: publicKeyFromPrivate(settings.sshPrivateKey)
      }
    : generateEd25519KeyPair('openemr-redis-action')
  return {
    access: { privateKey: client.privateKey, hostKeyFingerprints: [hostKey.fingerprint] },
    userData: renderCloudConfig({ authorizedKeys: [client.publicKey], hostKey })
  }
}

/** Access to an instance an earlier run launched: its pinned host key, and the user's key. */
export async function pinnedAccess(ctx: RunContext, instance: InstanceSummary): Promise<SshAccess> {
  if (!ctx.settings.sshPrivateKey)
    throw new Error(
      `instance ${instance.id} needs its Redis configuration changed, but it was launched with an ephemeral key by an earlier run and this run has no key for it. Pass key-name and ssh-private-key, or run mode: destroy and then apply.`
    )
  const pinned = tagValue(instance.tags, HOST_KEY_TAG)
  let fingerprints = pinned ? [pinned] : []
  if (fingerprints.length === 0) {
    // Not launched by this action: cloud-init prints the host key fingerprints to the console.
    fingerprints = parseConsoleFingerprints(await getConsoleOutput(ctx.clients.ec2, instance.id))
    if (fingerprints.length === 0)
      throw new Error(
        `instance ${instance.id} has no ${HOST_KEY_TAG} tag and its console output shows no host key fingerprints, so its SSH host key cannot be verified. Tag it with the SHA256 fingerprint of its ed25519 host key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).`
      )
  }
  return { privateKey: ctx.settings.sshPrivateKey, hostKeyFingerprints: fingerprints }
}

export function desiredConfigHash(settings: Settings, privateIp: string): string {
  return configHash({
    privateIp,
    port: settings.redisPort,
    password: settings.redisPassword || undefined,
    maxmemory: settings.redisMaxmemory
  })
}

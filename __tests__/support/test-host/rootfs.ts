// The cached Debian root filesystem every test host boots from (built by
// scripts/test-host/build-rootfs.sh on first use, then reused: the stamp check takes ms).
import { fileURLToPath } from 'node:url'
import { check } from './system.js'

export const scriptsDir = fileURLToPath(new URL('../../../scripts/test-host/', import.meta.url))

export const defaultCacheDir = () =>
  process.env.OPENEMR_REDIS_TEST_HOST_CACHE ?? '/var/cache/openemr-redis-action'

export interface Rootfs {
  path: string
  /** How long ensuring it took; about 55 s when it had to be built, a few ms otherwise. */
  ms: number
}

let pending: Promise<Rootfs> | undefined

export function ensureRootfs(): Promise<Rootfs> {
  pending ??= (async () => {
    const started = Date.now()
    const stdout = await check('bash', [`${scriptsDir}build-rootfs.sh`, defaultCacheDir()])
    const path = stdout.trim().split('\n').pop() ?? ''
    return { path, ms: Date.now() - started }
  })()
  // A failed build (mirror unreachable, say) may succeed on a later call.
  pending.catch(() => (pending = undefined))
  return pending
}

import * as core from '@actions/core'
import { errorMessage } from '../aws/errors.js'
import { provisionRedis, redisLogTail } from '../redis/provision.js'
import { verifyRedis } from '../redis/verify.js'
import { connectPinned } from '../ssh/connect.js'
import type { SshAccess } from './access.js'
import type { RunContext } from './context.js'

export interface ProvisionTarget {
  host: string
  privateIp: string
  username: string
  access: SshAccess
  signal?: AbortSignal
}

/**
 * Installs and configures Redis over one pinned SSH session, then proves a session round trip
 * through a tunnel to the private address, exactly the path the application servers use.
 */
export async function provisionOverSsh(
  ctx: RunContext,
  target: ProvisionTarget
): Promise<{ changed: boolean; version: string }> {
  const { settings } = ctx
  const shell = await connectPinned({
    host: target.host,
    username: target.username,
    privateKey: target.access.privateKey,
    hostKeyFingerprints: target.access.hostKeyFingerprints,
    deadline: ctx.deadline,
    signal: target.signal
  })
  try {
    core.info(`Connected to ${target.host} as ${target.username}; host key pinned`)
    const result = await provisionRedis(shell, {
      privateIp: target.privateIp,
      port: settings.redisPort,
      password: settings.redisPassword || undefined,
      maxmemory: settings.redisMaxmemory,
      timeoutMs: ctx.deadline.remainingMs()
    })
    try {
      const stream = await shell.forward(target.privateIp, settings.redisPort)
      const timings = await verifyRedis(stream, { password: settings.redisPassword || undefined })
      core.info(
        `Verified a session round trip through ${target.privateIp}:${settings.redisPort} in ${timings.totalMs.toFixed(0)} ms (SET with a TTL, GET, DEL)`
      )
    } catch (error) {
      const tail = await redisLogTail(shell).catch(e => `(log unavailable: ${errorMessage(e)})`)
      throw new Error(
        `Redis did not answer a session round trip: ${errorMessage(error)}\nRedis log:\n${tail}`,
        { cause: error }
      )
    }
    core.info(
      `Redis ${result.version} on ${result.os}: ${result.changed ? 'changed' : 'unchanged'}, maxmemory ${result.maxmemoryBytes} bytes, listening on ${result.listen.join(', ') || 'unknown'}`
    )
    return { changed: result.changed, version: result.version }
  } finally {
    await shell.close()
  }
}

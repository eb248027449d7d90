// The SSH and Redis layers against the real thing: a Debian 12 host (systemd, OpenSSH) booted
// by the test host harness with our cloud-config, a pinned ssh2 session, the embedded script
// installing redis-server from the Debian mirror, and a RESP round trip through the tunnel.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { REDIS_AUTH_PATH } from '../../src/redis/paths.js'
import { provisionRedis, ProvisionError, type ProvisionResult } from '../../src/redis/provision.js'
import { RespConnection, RespError } from '../../src/redis/resp.js'
import { RedisVerifyError, verifyRedis } from '../../src/redis/verify.js'
import {
  connectPinned,
  HostKeyMismatchError,
  SshAuthError,
  SshUnreachableError
} from '../../src/ssh/connect.js'
import { generateEd25519KeyPair, renderCloudConfig } from '../../src/ssh/keys.js'
import type { SshSession } from '../../src/ssh/session.js'
import { startTestHost, stopAllTestHosts, testHostPrerequisites } from '../support/test-host.js'
import type { TestHost } from '../support/test-host.js'

const SUBNET = '10.201.44'
const ADDRESS = `${SUBNET}.4`
// Inside the test's own subnet, where nothing answers ARP: a host that cannot be reached.
const NOBODY = `${SUBNET}.99`
const USER = 'admin'
const PORT = 6379
const PASSWORD = randomBytes(24).toString('hex')

const reason = testHostPrerequisites()
if (reason) console.warn(`Skipping the Redis provisioning integration test: ${reason}`)
const integration = reason ? describe.skip : describe

function connectTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    socket.once('error', reject)
    socket.connect(port, host, () => resolve(socket))
  })
}

integration('Redis provisioned over a pinned SSH session on a real Debian 12 host', () => {
  const hostKey = generateEd25519KeyPair('openemr-redis-host')
  const client = generateEd25519KeyPair('openemr-redis-action')
  const timings: Record<string, number | string> = {}
  let host: TestHost
  let session: SshSession
  let first: ProvisionResult

  const sh = async (command: string) => {
    const r = await host.exec(command)
    if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr}`)
    return r.stdout.trim()
  }
  const mainPid = () => sh('systemctl show -p ExecMainPID --value redis-server.service')
  const connect = (overrides: Partial<Parameters<typeof connectPinned>[0]> = {}) =>
    connectPinned({
      host: ADDRESS,
      username: USER,
      privateKey: client.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: Date.now() + 30_000,
      ...overrides
    })
  const time = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    try {
      return await work()
    } finally {
      timings[name] = Math.round(performance.now() - started)
    }
  }

  beforeAll(async () => {
    host = await time('bootHostMs', () =>
      startTestHost({
        name: 'redis-provision',
        address: ADDRESS,
        prefix: 24,
        loginUser: USER,
        userData: renderCloudConfig({ authorizedKeys: [client.publicKey], hostKey })
      })
    )
    timings.harness = JSON.stringify(host.timings)
  }, 600_000)

  afterAll(async () => {
    await session?.close()
    await stopAllTestHosts()
    console.log(
      'Measured (ms):\n' +
        Object.entries(timings)
          .map(([k, v]) => `  ${k}: ${v}`)
          .join('\n')
    )
  }, 60_000)

  it('the host has only the delivered host key, and ssh-keygen prints our fingerprint for it', async () => {
    expect(await sh('ls /etc/ssh | grep ^ssh_host_ | sort')).toBe(
      'ssh_host_ed25519_key\nssh_host_ed25519_key.pub'
    )
    expect(await sh('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key')).toContain(
      ` ${hostKey.fingerprint} `
    )
  })

  it('connects with the host key pinned', async () => {
    session = await time('connectMs', () => connect())
    expect(session.info.hostKeyFingerprint).toBe(hostKey.fingerprint)
    expect((await session.exec('id -un')).stdout).toBe(`${USER}\n`)
    const started = performance.now()
    await session.exec('true')
    timings.execRoundTripMs = Math.round(performance.now() - started)
  })

  it('refuses the host when another key is pinned, without retrying', async () => {
    const pinned = generateEd25519KeyPair().fingerprint
    const error = await connect({ hostKeyFingerprints: [pinned] }).catch(e => e)
    expect(error).toBeInstanceOf(HostKeyMismatchError)
    expect(error).toMatchObject({ seen: hostKey.fingerprint, expected: [pinned], attempts: 1 })
  })

  it('tells a key OpenSSH rejects apart', async () => {
    const error = await connect({
      privateKey: generateEd25519KeyPair().privateKey,
      authRetries: 0
    }).catch(e => e)
    expect(error).toBeInstanceOf(SshAuthError)
    expect(error.message).toContain('wrong key or ssh-user')
  })

  it('tells an address nobody answers at apart, within the deadline', async () => {
    const started = Date.now()
    const error = await connect({ host: NOBODY, deadline: Date.now() + 5_000 }).catch(e => e)
    expect(error).toBeInstanceOf(SshUnreachableError)
    expect(error.message).toMatch(/security group/)
    expect(Date.now() - started).toBeLessThan(8_000)
  }, 20_000)

  it('sends a fresh SYN after 250, 500 and 1000 ms in turn while the firewall drops them, and logs in once it opens', async () => {
    const timeouts: string[] = []
    await host.applySecurityGroup([])
    try {
      const session = connect({
        onAttempt: a => {
          const ms = /timed out after (\d+) ms/.exec(a.error?.message ?? '')?.[1]
          if (ms) timeouts.push(ms)
        }
      })
      // Four dropped attempts take 250 + 500 + 1000 + 250 ms plus the pauses between them.
      await new Promise(resolve => setTimeout(resolve, 2_800))
      await host.applySecurityGroup([
        { protocol: 'tcp', fromPort: 22, toPort: 22, sources: [`${host.router}/32`] }
      ])
      await (await session).close()
    } finally {
      await host.clearSecurityGroup()
    }
    expect(timeouts.slice(0, 4)).toEqual(['250', '500', '1000', '250'])
  }, 30_000)

  it('installs and configures Redis with the embedded script (apt through the mirror proxy)', async () => {
    // A booting cloud image: cloud-init still running, and another apt run holding dpkg's lock.
    await sh(
      'printf \'#!/bin/sh\\necho "$*" >>/run/fake-cloud-init.calls\\nsleep 1\\necho status: done\\n\' >/usr/local/bin/cloud-init && chmod 755 /usr/local/bin/cloud-init'
    )
    await sh(
      'touch /var/lib/dpkg/lock-frontend && (setsid flock /var/lib/dpkg/lock-frontend sleep 3 >/dev/null 2>&1 &) && sleep 0.2'
    )
    first = await time('provisionFirstMs', () =>
      provisionRedis(session, {
        privateIp: ADDRESS,
        port: PORT,
        password: PASSWORD,
        maxmemory: 'auto'
      })
    )
    timings.redisVersion = first.version
    timings.tuning = `sysctl=${first.sysctl} thp=${first.thp}`
    expect(first).toMatchObject({
      changed: true,
      restarted: true,
      installed: true,
      os: 'debian-12'
    })
    expect(first.version).toMatch(/^7\./)
    expect(first.listen.sort()).toEqual([`${ADDRESS}:${PORT}`, `127.0.0.1:${PORT}`].sort())
    const memKb = Number(/MemTotal:\s+(\d+)/.exec(await sh('cat /proc/meminfo'))![1])
    expect(first.maxmemoryBytes).toBe(memKb * 768)
    expect(host.aptProxy.denied).toEqual([])
    expect(await sh('cat /run/fake-cloud-init.calls')).toBe('status --wait')
    expect(first.log).toContain('waiting for cloud-init to finish')
    expect(first.log).toContain('waiting for another apt/dpkg run')
    expect(first.durationMs).toBeGreaterThan(3000)
    await sh('rm /usr/local/bin/cloud-init')
  }, 900_000)

  it('installs the files with the modes the package uses and keeps the password off the disk', async () => {
    expect(await sh(`stat -c '%a %U %G' /etc/redis/redis.conf ${REDIS_AUTH_PATH}`)).toBe(
      '640 redis redis\n640 redis redis'
    )
    expect(await sh(`grep -c '^user default on #' ${REDIS_AUTH_PATH}`)).toBe('1')
    const found = await host.exec(
      `grep -rlsF -- ${PASSWORD} /etc /var/lib/redis /var/log /run /tmp /root /home; true`
    )
    expect(found.stdout).toBe('')
    expect(await sh('ls /run | grep -c openemr-redis || true')).toBe('0')
    expect(await sh('cat /etc/sysctl.d/60-openemr-redis.conf')).toContain(
      'vm.overcommit_memory = 1'
    )
    expect(await sh('cat /etc/tmpfiles.d/openemr-redis-thp.conf')).toContain('never')
    expect(first.sysctl).toMatch(/^(applied|unchanged|read-only)$/)
  })

  it('answers a session round trip through an SSH tunnel to the private address', async () => {
    const result = await time('verifyTunnelMs', async () =>
      verifyRedis(await session.forward(ADDRESS, PORT), { password: PASSWORD })
    )
    expect(result.authMs).toBeDefined()
    timings.verifyTunnelSteps = JSON.stringify(result)
  })

  it('answers the runner’s end of the network directly (not a loopback-only Redis)', async () => {
    const result = await verifyRedis(await connectTcp(ADDRESS, PORT), { password: PASSWORD })
    expect(result.getMs).toBeGreaterThanOrEqual(0)
  })

  it('refuses a wrong password and the commands in @dangerous', async () => {
    const wrong = await verifyRedis(await connectTcp(ADDRESS, PORT), {
      password: 'not-it-0123456789'
    }).catch(e => e)
    expect(wrong).toBeInstanceOf(RedisVerifyError)
    expect(wrong.step).toBe('AUTH')

    const connection = new RespConnection(await connectTcp(ADDRESS, PORT))
    expect(await connection.command(['AUTH', PASSWORD])).toBe('OK')
    for (const command of [['CONFIG', 'SET', 'dir', '/tmp'], ['FLUSHALL'], ['KEYS', '*']]) {
      const reply = await connection.command(command)
      expect(reply).toBeInstanceOf(RespError)
      expect(String(reply)).toMatch(/^NOPERM/)
    }
    connection.end()
  })

  it('changes nothing and does not restart Redis on a second run', async () => {
    const pid = await mainPid()
    const stamps = await sh(
      `stat -c '%n %Y %i' /etc/redis/redis.conf ${REDIS_AUTH_PATH} /etc/sysctl.d/60-openemr-redis.conf /etc/tmpfiles.d/openemr-redis-thp.conf /etc/systemd/system/redis-server.service.d/openemr-redis.conf`
    )
    const again = await time('provisionSecondMs', () =>
      provisionRedis(session, {
        privateIp: ADDRESS,
        port: PORT,
        password: PASSWORD,
        maxmemory: 'auto'
      })
    )
    expect(again).toMatchObject({ changed: false, restarted: false, installed: false })
    expect(again.configHash).toBe(first.configHash)
    expect(again.pid).toBe(first.pid)
    expect(await mainPid()).toBe(pid)
    expect(
      await sh(
        `stat -c '%n %Y %i' /etc/redis/redis.conf ${REDIS_AUTH_PATH} /etc/sysctl.d/60-openemr-redis.conf /etc/tmpfiles.d/openemr-redis-thp.conf /etc/systemd/system/redis-server.service.d/openemr-redis.conf`
      )
    ).toBe(stamps)
  }, 300_000)

  it('shows the end of Redis’s log when Redis cannot start with the configuration', async () => {
    // Port 22 is sshd's, and below 1024 the redis user cannot bind anyway.
    const error = await provisionRedis(session, {
      privateIp: ADDRESS,
      port: 22,
      password: PASSWORD,
      maxmemory: 'auto'
    }).catch(e => e)
    expect(error).toBeInstanceOf(ProvisionError)
    expect(error.step).toBe('service')
    expect(error.redisLog).toMatch(
      /Could not create server TCP listening socket|Permission denied|in use/
    )
    expect(error.message).not.toContain(PASSWORD)
  }, 300_000)

  it('serves remote clients without a password with protected mode off, and recovers', async () => {
    const open = await time('provisionNoPasswordMs', () =>
      provisionRedis(session, { privateIp: ADDRESS, port: PORT, maxmemory: 536870912 })
    )
    expect(open).toMatchObject({ changed: true, restarted: true, maxmemoryBytes: 536870912 })
    expect(await sh(`test -e ${REDIS_AUTH_PATH} && echo present || echo absent`)).toBe('absent')
    await verifyRedis(await connectTcp(ADDRESS, PORT))
    const connection = new RespConnection(await connectTcp(ADDRESS, PORT))
    expect(String(await connection.command(['CONFIG', 'GET', 'dir']))).toMatch(/^NOPERM/)
    connection.end()

    const again = await provisionRedis(session, {
      privateIp: ADDRESS,
      port: PORT,
      maxmemory: 536870912
    })
    expect(again).toMatchObject({ changed: false, restarted: false })
  }, 300_000)
})

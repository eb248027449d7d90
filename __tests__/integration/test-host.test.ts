// Self-test of the disposable test host (see __tests__/support/test-host.ts): two hosts on one
// subnet, SSH with keys delivered through user-data, apt through the mirror-only proxy, a
// security group enforced by nftables, and a machine left exactly as it was found.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import {
  cleanUpAfterCrashedRuns,
  cloudConfigFiles,
  machineChanges,
  renderNftables,
  rulesFromSecurityGroups,
  snapshotMachine,
  startTestHost,
  stopAllTestHosts,
  testHostPrerequisites
} from '../support/test-host.js'
import type { MachineSnapshot, TestHost } from '../support/test-host.js'
import { denialReason, mirrorsFromSources, upstreamProxy } from '../support/test-host/apt-proxy.js'
import { subnetOf } from '../support/test-host/network.js'
import { findBinary, run } from '../support/test-host/system.js'

const SUBNET_PREFIX = '10.201.3'
const A = `${SUBNET_PREFIX}.4`
const B = `${SUBNET_PREFIX}.5`
const ROUTER = `${SUBNET_PREFIX}.1`

/** Whether a TCP connection from the root namespace is accepted within `ms`. */
function tcpOpen(
  address: string,
  port: number,
  ms = 1_500
): Promise<'open' | 'refused' | 'timeout'> {
  return new Promise(resolve => {
    const socket = new Socket()
    const done = (result: 'open' | 'refused' | 'timeout') => {
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(ms, () => done('timeout'))
    socket.on('error', () => done('refused'))
    socket.connect(port, address, () => done('open'))
  })
}

function proxyRequest(proxyUrl: string, method: string, target: string): Promise<number> {
  const proxy = new URL(proxyUrl)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: proxy.hostname, port: proxy.port, method, path: target, headers: { host: 'x' } },
      res => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }
    )
    req.on('connect', res => {
      resolve(res.statusCode ?? 0)
      req.destroy()
    })
    req.on('error', reject)
    req.end()
  })
}

describe('test host helpers (pure)', () => {
  it('applies ssh_authorized_keys and ssh_keys from #cloud-config and lists what it ignores', () => {
    const files = cloudConfigFiles(
      '#cloud-config\n' +
        stringify({
          ssh_authorized_keys: ['ssh-ed25519 AAAA client'],
          ssh_keys: { ed25519_private: 'PRIVATE', ed25519_public: 'ssh-ed25519 BBBB host' },
          package_update: true
        })
    )
    expect(files.authorizedKeys).toEqual(['ssh-ed25519 AAAA client'])
    expect(files.hostKeys).toEqual([
      { name: 'ssh_host_ed25519_key', content: 'PRIVATE\n' },
      { name: 'ssh_host_ed25519_key.pub', content: 'ssh-ed25519 BBBB host\n' }
    ])
    expect(files.ignoredKeys).toEqual(['package_update'])
    expect(() => cloudConfigFiles('#!/bin/sh\necho hi\n')).toThrow('#cloud-config')
    expect(() => cloudConfigFiles('#cloud-config\nssh_keys:\n  dsa_private: x\n')).toThrow(
      'dsa_private'
    )
  })

  it('resolves security group references to member addresses', () => {
    const rules = rulesFromSecurityGroups(
      [
        {
          GroupId: 'sg-redis',
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 6379,
              ToPort: 6379,
              UserIdGroupPairs: [{ GroupId: 'sg-app' }]
            },
            {
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              IpRanges: [{ CidrIp: '203.0.113.7/32' }]
            },
            {
              IpProtocol: 'tcp',
              FromPort: 80,
              ToPort: 80,
              UserIdGroupPairs: [{ GroupId: 'sg-none' }]
            },
            { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '2001:db8::/64' }] }
          ]
        }
      ],
      { 'sg-app': ['10.1.0.5', '10.1.0.6'], 'sg-none': [] }
    )
    expect(rules).toEqual([
      { protocol: 'tcp', fromPort: 6379, toPort: 6379, sources: ['10.1.0.5/32', '10.1.0.6/32'] },
      { protocol: 'tcp', fromPort: 22, toPort: 22, sources: ['203.0.113.7/32'] },
      { protocol: '-1', fromPort: 0, toPort: 65535, sources: ['2001:db8::/64'] }
    ])
    expect(() =>
      rulesFromSecurityGroups(
        [
          {
            GroupId: 'sg-x',
            IpPermissions: [{ IpProtocol: 'tcp', UserIdGroupPairs: [{ GroupId: 'sg-y' }] }]
          }
        ],
        {}
      )
    ).toThrow('sg-y')
    const nft = renderNftables(rules)
    expect(nft).toContain('policy drop;')
    expect(nft).toContain('ip saddr { 10.1.0.5/32, 10.1.0.6/32 } tcp dport 6379 accept')
    expect(nft).toContain('ip6 saddr { 2001:db8::/64 } accept')
    expect(() =>
      renderNftables([{ protocol: 'tcp', fromPort: 1, toPort: 2, sources: ['1.2.3.4/33'] }])
    ).toThrow('CIDR')
  })

  it('lets the proxy fetch only the mirror paths the host sources name', () => {
    const allow = mirrorsFromSources(
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n' +
        'deb [signed-by=/k.gpg] http://mirror.example/debian-security bookworm-security main\n' +
        'deb https://elsewhere.example/debian bookworm main\n'
    )
    expect([...allow.entries()]).toEqual([['mirror.example', ['/debian', '/debian-security']]])
    const ok = 'http://mirror.example/debian/dists/bookworm/InRelease'
    expect(denialReason('GET', ok, allow)).toBeUndefined()
    expect(denialReason('HEAD', ok, allow)).toBeUndefined()
    expect(denialReason('POST', ok, allow)).toMatch('method')
    expect(denialReason('GET', 'http://other.example/debian/x', allow)).toMatch('host')
    expect(denialReason('GET', 'http://mirror.example/debian/../etc/passwd', allow)).toMatch('path')
    expect(denialReason('GET', 'http://mirror.example/debianx/y', allow)).toMatch('path')
    expect(denialReason('GET', 'http://mirror.example/debian/%2e%2e/x', allow)).toBeDefined()
    expect(denialReason('GET', '/debian/x', allow)).toMatch('absolute')
    expect(upstreamProxy('Acquire::http::Proxy "http://p:3128/";\n', 'm', {})?.host).toBe('p:3128')
    expect(
      upstreamProxy(
        'Acquire::http::Proxy "http://p:3128/";\nAcquire::http::Proxy::m "DIRECT";\n',
        'm',
        {}
      )
    ).toBeUndefined()
    expect(upstreamProxy('', 'm', { http_proxy: 'http://q:8080' })?.host).toBe('q:8080')
  })

  it('refuses subnets it must not touch', () => {
    expect(subnetOf('10.20.1.4', 24)).toMatchObject({ cidr: '10.20.1.0/24', router: '10.20.1.1' })
    expect(() => subnetOf('10.20.1.1', 24)).toThrow('router')
    expect(() => subnetOf('8.8.8.8', 24)).toThrow('private')
  })
})

const reason =
  testHostPrerequisites() ??
  (findBinary('ssh') && findBinary('ssh-keygen')
    ? undefined
    : 'needs ssh and ssh-keygen (openssh-client)')
if (reason) console.warn(`Skipping the test host self-test: ${reason}`)
const integration = reason ? describe.skip : describe

integration('disposable test host (systemd-nspawn)', () => {
  let before: MachineSnapshot
  let dir: string
  let a: TestHost
  let b: TestHost
  const key = (name: string) => readFileSync(join(dir, name), 'utf8').trim()

  const ssh = (knownHosts: string, command: string) =>
    run('ssh', [
      '-F',
      '/dev/null',
      '-i',
      join(dir, 'client'),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'ConnectTimeout=5',
      `ubuntu@${A}`,
      command
    ])

  beforeAll(async () => {
    cleanUpAfterCrashedRuns()
    before = await snapshotMachine()
    dir = mkdtempSync(join(tmpdir(), 'test-host-selftest-'))
    for (const name of ['client', 'hostkey', 'wrong']) {
      const made = await run('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        name,
        '-f',
        join(dir, name)
      ])
      expect(made.code).toBe(0)
    }
    const userData =
      '#cloud-config\n' +
      stringify({
        ssh_authorized_keys: [key('client.pub')],
        ssh_keys: { ed25519_private: key('hostkey'), ed25519_public: key('hostkey.pub') }
      })
    ;[a, b] = await Promise.all([
      startTestHost({ name: 'selftest-a', address: A, prefix: 24, loginUser: 'ubuntu', userData }),
      startTestHost({ name: 'selftest-b', address: B, prefix: 24, loginUser: 'ubuntu' })
    ])
    console.log(
      `test host timings (ms): a ${JSON.stringify(a.timings)}, b ${JSON.stringify(b.timings)}`
    )
  }, 300_000)

  afterAll(async () => {
    await stopAllTestHosts()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('boots real systemd with sshd, the login user and only the delivered host key', async () => {
    expect(a.timings.bootMs).toBeLessThan(30_000)
    const state = await a.exec('systemctl is-system-running --wait; systemctl is-active ssh')
    expect(state.stdout.split('\n')).toEqual(expect.arrayContaining(['active']))
    expect((await a.exec('hostname')).stdout.trim()).toBe('ip-10-201-3-4')
    expect((await a.exec('sudo -n -u ubuntu sudo -n id -u')).stdout.trim()).toBe('0')
    expect(
      (await a.exec('ls /etc/ssh | grep ^ssh_host_')).stdout.split('\n').filter(Boolean)
    ).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'])
    expect(
      (await a.exec('stat -c %U:%a /home/ubuntu/.ssh /home/ubuntu/.ssh/authorized_keys')).stdout
    ).toBe('ubuntu:700\nubuntu:600\n')
    expect((await a.exec('command -v cloud-init')).code).not.toBe(0)
    // The snapshot sees a running host, so its emptiness after stop below means something.
    expect(machineChanges(before, await snapshotMachine())).toEqual(
      expect.arrayContaining([
        `netns: added ${a.netns}`,
        expect.stringMatching(/^links: added oerb-/),
        expect.stringMatching(/^routes: added 10\.201\.3\.0\/24/)
      ])
    )
    // Hosts on one subnet reach each other.
    const banner = await b.exec(`timeout 3 bash -c 'exec 3<>/dev/tcp/${A}/22; head -c 4 <&3'`)
    expect(banner.stdout).toBe('SSH-')
  }, 60_000)

  it('accepts SSH with the user-data key against the pinned user-data host key', async () => {
    const knownHosts = join(dir, 'known_hosts')
    writeFileSync(knownHosts, `${A} ${key('hostkey.pub')}\n`)
    const result = await ssh(knownHosts, 'sudo -n id -u; hostname')
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('0\nip-10-201-3-4\n')
    expect(result.code).toBe(0)
  }, 30_000)

  it('refuses SSH when the pinned host key is not the one delivered', async () => {
    const knownHosts = join(dir, 'known_hosts_wrong')
    writeFileSync(knownHosts, `${A} ${key('wrong.pub')}\n`)
    const result = await ssh(knownHosts, 'true')
    expect(result.code).toBe(255)
    expect(result.stderr).toMatch(/Host key verification failed/)
  }, 30_000)

  it('lets the proxy pass only the Debian mirror', async () => {
    expect(a.router).toBe(ROUTER)
    expect(new URL(a.aptProxy.url).hostname).toBe(ROUTER)
    expect(await proxyRequest(a.aptProxy.url, 'GET', 'http://example.invalid/')).toBe(403)
    expect(await proxyRequest(a.aptProxy.url, 'CONNECT', 'example.invalid:443')).toBe(403)
    expect(a.aptProxy.denied).toEqual(
      expect.arrayContaining([expect.stringContaining('example.invalid')])
    )
  }, 30_000)

  it('installs redis-server with apt through the proxy', async () => {
    const started = Date.now()
    const install = await a.exec(
      'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q redis-server',
      { timeoutMs: 540_000 }
    )
    console.log(`apt-get update + install redis-server: ${Date.now() - started} ms`)
    expect(install.stderr).not.toMatch(/^E:/m)
    expect(install.code).toBe(0)
    expect((await a.exec('redis-cli ping')).stdout.trim()).toBe('PONG')
  }, 600_000)

  it('enforces a security group with nftables inside the host', async () => {
    const configured = await a.exec(
      "sed -i -e 's/^bind .*/bind 0.0.0.0/' -e 's/^protected-mode yes/protected-mode no/' /etc/redis/redis.conf" +
        ' && systemctl restart redis-server && redis-cli ping'
    )
    expect(configured.stdout.trim()).toBe('PONG')
    const pingFromB = () =>
      b.exec(
        `timeout 3 bash -c 'exec 3<>/dev/tcp/${A}/6379; printf "PING\\r\\n" >&3; head -c 5 <&3'`
      )

    // Open before: so the closed results below are the firewall's doing.
    expect(await tcpOpen(A, 6379)).toBe('open')
    expect(await tcpOpen(A, 22)).toBe('open')
    expect((await pingFromB()).stdout).toBe('+PONG')

    const rules = rulesFromSecurityGroups(
      [
        {
          GroupId: 'sg-redis',
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 6379,
              ToPort: 6379,
              UserIdGroupPairs: [{ GroupId: 'sg-app' }]
            }
          ]
        }
      ],
      { 'sg-app': [b.address] }
    )
    await a.applySecurityGroup(rules)
    expect((await pingFromB()).stdout).toBe('+PONG')
    expect(await tcpOpen(A, 6379)).toBe('timeout')
    expect(await tcpOpen(A, 22)).toBe('timeout')
    // Replies to the host's own connections still come back (stateful, like a security group).
    expect(
      (await a.exec(`timeout 3 bash -c 'exec 3<>/dev/tcp/${B}/22; head -c 4 <&3'`)).stdout
    ).toBe('SSH-')

    await a.clearSecurityGroup()
    expect(await tcpOpen(A, 22)).toBe('open')
  }, 60_000)

  it('leaves the machine exactly as it found it', async () => {
    await stopAllTestHosts()
    await Promise.all([a.stop(), b.stop()])
    expect(machineChanges(before, await snapshotMachine())).toEqual([])
  }, 60_000)
})

import { describe, expect, it } from '@jest/globals'
import type { NetworkInterfaceInfo } from 'node:os'
import {
  CHECKIP_URL,
  cidrContains,
  resolveSshCidr,
  RunnerAddressError,
  type FetchLike
} from '../../src/aws/runner-address.js'

const answer =
  (body: string, status = 200): FetchLike =>
  async () => ({ ok: status < 300, status, text: async () => body })

const iface = (address: string, internal = false): NetworkInterfaceInfo => ({
  address,
  family: 'IPv4',
  internal,
  netmask: '255.255.255.0',
  mac: '00:00:00:00:00:00',
  cidr: `${address}/24`
})

describe('resolveSshCidr', () => {
  it('keeps an explicit CIDR', async () => {
    const fetchImpl: FetchLike = async () => {
      throw new Error('must not be called')
    }
    expect(
      await resolveSshCidr('198.51.100.0/28', { sshVia: 'public', vpcCidr: '', fetchImpl })
    ).toBe('198.51.100.0/28')
  })

  it("asks AWS's check-IP service for the public address, as a /32", async () => {
    const urls: string[] = []
    const fetchImpl: FetchLike = async url => {
      urls.push(url)
      return { ok: true, status: 200, text: async () => '203.0.113.7\n' }
    }
    expect(
      await resolveSshCidr('auto', { sshVia: 'public', vpcCidr: '', fetchImpl, env: {} })
    ).toBe('203.0.113.7/32')
    expect(urls).toEqual([CHECKIP_URL])
    expect(CHECKIP_URL).toBe('https://checkip.amazonaws.com')
  })

  it('takes the service URL from OPENEMR_REDIS_CHECKIP_URL', async () => {
    const urls: string[] = []
    const fetchImpl: FetchLike = async url => {
      urls.push(url)
      return { ok: true, status: 200, text: async () => '203.0.113.8' }
    }
    await resolveSshCidr('auto', {
      sshVia: 'public',
      vpcCidr: '',
      fetchImpl,
      env: { OPENEMR_REDIS_CHECKIP_URL: 'http://127.0.0.1:1/ip' }
    })
    expect(urls).toEqual(['http://127.0.0.1:1/ip'])
  })

  it('gives up after the timeout with the fix in the message', async () => {
    const fetchImpl: FetchLike = (_url, { signal }) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason))
      })
    const started = Date.now()
    const error = await resolveSshCidr('auto', {
      sshVia: 'public',
      vpcCidr: '',
      fetchImpl,
      env: {},
      timeoutMs: 50
    }).catch(e => e)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(error).toBeInstanceOf(RunnerAddressError)
    expect(error.message).toMatch(/no answer within 0.05 s/)
    expect(error.message).toMatch(/Set ssh-cidr/)
  })

  it('reports an HTTP error and an answer that is not an address', async () => {
    await expect(
      resolveSshCidr('auto', { sshVia: 'public', vpcCidr: '', fetchImpl: answer('', 503), env: {} })
    ).rejects.toThrow(/answered HTTP 503\. Set ssh-cidr/)
    await expect(
      resolveSshCidr('auto', {
        sshVia: 'public',
        vpcCidr: '',
        fetchImpl: answer('<html>captive portal</html>'),
        env: {}
      })
    ).rejects.toThrow(/not an IPv4 address/)
  })

  it('reports a network failure', async () => {
    const fetchImpl: FetchLike = async () => {
      throw new TypeError('fetch failed')
    }
    await expect(
      resolveSshCidr('auto', { sshVia: 'public', vpcCidr: '', fetchImpl, env: {} })
    ).rejects.toThrow(/\(fetch failed\)\. Set ssh-cidr/)
  })

  it("ssh-via private: the runner's own address inside the VPC", async () => {
    const interfaces = () => ({
      lo: [iface('127.0.0.1', true)],
      docker0: [iface('172.17.0.1')],
      eth0: [iface('10.20.3.15')]
    })
    expect(
      await resolveSshCidr('auto', { sshVia: 'private', vpcCidr: '10.20.0.0/16', interfaces })
    ).toBe('10.20.3.15/32')
    expect(
      await resolveSshCidr('auto', {
        sshVia: 'private',
        vpcCidr: ['10.0.0.0/16', '172.17.0.0/16'],
        interfaces
      })
    ).toBe('172.17.0.1/32')
  })

  it('ssh-via private: an error naming the addresses when none is in the VPC', async () => {
    const interfaces = () => ({ eth0: [iface('192.168.1.5')] })
    await expect(
      resolveSshCidr('auto', { sshVia: 'private', vpcCidr: '10.20.0.0/16', interfaces })
    ).rejects.toThrow(
      /none of the runner's addresses \(192.168.1.5\) is inside the VPC \(10.20.0.0\/16\).*set ssh-cidr/
    )
  })
})

describe('cidrContains', () => {
  it.each([
    ['10.20.0.0/16', '10.20.255.1', true],
    ['10.20.0.0/16', '10.21.0.1', false],
    ['203.0.113.7/32', '203.0.113.7', true],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['10.0.0.0/8', 'not-an-ip', false],
    ['10.0.0.0/33', '10.0.0.1', false]
  ])('%s contains %s: %s', (block, address, inside) => {
    expect(cidrContains(block, address)).toBe(inside)
  })
})

import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import {
  ConfigRewriteError,
  LOOKED_FOR,
  rewriteConfig,
  type RedisEndpoint
} from '../../src/config-file/rewrite.js'

const FIXTURE = readFileSync(
  new URL('../fixtures/06-redis-configuration.config', import.meta.url),
  'utf8'
)
const AT = { ip: '10.0.1.23', port: 6379 }
const SED_LINE = 17

describe('rewriteConfig on the legacy 06-redis-configuration.config', () => {
  it('replaces the placeholder in the sed-escaped URL and leaves every other byte alone', () => {
    const result = rewriteConfig(FIXTURE, AT)
    expect(result.text).toBe(FIXTURE.replace('<<REDIS_IP>>', '10.0.1.23'))
    expect(result.text).toContain(String.raw`\"tcp:\/\/10.0.1.23:6379\"/' php.ini` + '\n')
    expect(result.changed).toBe(true)
    expect(result.changes).toEqual([
      {
        line: SED_LINE,
        before: FIXTURE.split('\n')[SED_LINE - 1],
        after: FIXTURE.split('\n')[SED_LINE - 1].replace('<<REDIS_IP>>', '10.0.1.23')
      }
    ])
  })

  it('warns about the retired hook directory and the commented-out save_path', () => {
    const { warnings } = rewriteConfig(FIXTURE, AT)
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(/^lines 3, 7 use \/opt\/elasticbeanstalk\/hooks\//)
    expect(warnings[0]).toContain('.platform/hooks/postdeploy/')
    expect(warnings[1]).toMatch(/^line 17: the sed looks for session\.save_path/)
    expect(warnings[1]).toContain(';session.save_path = "/tmp"')
  })

  it('finds nothing to change when a run with the same endpoint already rewrote it', () => {
    const once = rewriteConfig(FIXTURE, AT).text
    const again = rewriteConfig(once, AT)
    expect(again).toMatchObject({ text: once, changed: false, changes: [] })
  })

  it("replaces an earlier run's address with a new address and port", () => {
    const once = rewriteConfig(FIXTURE, AT).text
    const moved = rewriteConfig(once, { ip: '10.0.2.200', port: 6380 })
    expect(moved.text).toBe(FIXTURE.replace('<<REDIS_IP>>:6379', '10.0.2.200:6380'))
    expect(moved.changes.map(c => c.line)).toEqual([SED_LINE])
    expect(moved.changes[0].before).toContain(String.raw`tcp:\/\/10.0.1.23:6379`)
    expect(moved.changes[0].after).toContain(String.raw`tcp:\/\/10.0.2.200:6380`)
  })

  it('keeps CRLF line endings byte for byte', () => {
    const crlf = FIXTURE.replace(/\n/g, '\r\n')
    const result = rewriteConfig(crlf, AT)
    expect(Buffer.from(result.text)).toEqual(
      Buffer.from(FIXTURE.replace('<<REDIS_IP>>', '10.0.1.23').replace(/\n/g, '\r\n'))
    )
    expect(result.changes).toHaveLength(1)
    expect(result.changes[0].line).toBe(SED_LINE)
    expect(result.changes[0].after.endsWith('\r')).toBe(false)
  })
})

describe('rewriteConfig line handling', () => {
  it('keeps mixed line endings, indentation and a missing final newline', () => {
    const text =
      '\ta: tcp://<<REDIS_IP>>:6379\r\n  b: x\rc: <<REDIS_IP>>\n    d: tcp://<<REDIS_IP>>'
    const result = rewriteConfig(text, AT)
    expect(result.text).toBe(
      '\ta: tcp://10.0.1.23:6379\r\n  b: x\rc: 10.0.1.23\n    d: tcp://10.0.1.23'
    )
    expect(result.changes.map(c => c.line)).toEqual([1, 3, 4])
  })

  it('keeps a final newline', () => {
    expect(rewriteConfig('x=<<REDIS_IP>>\n', AT).text).toBe('x=10.0.1.23\n')
  })

  it('replaces every occurrence, several on one line, and reports each line once', () => {
    const text = [
      'one: tcp://<<REDIS_IP>>:6379 tcp://<<REDIS IP HERE>>:6379',
      'two: nothing here',
      String.raw`three: s/x/tcp:\/\/<<REDIS IP HERE>>:6379/ and tcp://10.9.8.7:6379`
    ].join('\n')
    const result = rewriteConfig(text, { ip: '10.0.0.5', port: 6379 })
    expect(result.text).toBe(
      [
        'one: tcp://10.0.0.5:6379 tcp://10.0.0.5:6379',
        'two: nothing here',
        String.raw`three: s/x/tcp:\/\/10.0.0.5:6379/ and tcp://10.0.0.5:6379`
      ].join('\n')
    )
    expect(result.changes.map(c => c.line)).toEqual([1, 3])
  })
})

describe('rewriteConfig forms', () => {
  const at = (port: number): RedisEndpoint => ({ ip: '172.31.5.9', port })

  it.each([
    ['plain placeholder', 'tcp://<<REDIS_IP>>:6379', 'tcp://172.31.5.9:6380'],
    ['plain spaced placeholder', 'tcp://<<REDIS IP HERE>>:6379', 'tcp://172.31.5.9:6380'],
    [
      'escaped placeholder',
      String.raw`tcp:\/\/<<REDIS_IP>>:6379`,
      String.raw`tcp:\/\/172.31.5.9:6380`
    ],
    ['plain earlier address', 'tcp://10.0.1.23:6379', 'tcp://172.31.5.9:6380'],
    [
      'escaped earlier address',
      String.raw`tcp:\/\/10.0.1.23:6379`,
      String.raw`tcp:\/\/172.31.5.9:6380`
    ],
    [
      'URL with a query',
      'tcp://10.0.1.23:6379?weight=1&timeout=2',
      'tcp://172.31.5.9:6380?weight=1&timeout=2'
    ],
    ['placeholder outside a URL, with port', 'host=<<REDIS_IP>>:6379', 'host=172.31.5.9:6380'],
    [
      'URL without a port gains the non-default one',
      'tcp://<<REDIS_IP>>"',
      'tcp://172.31.5.9:6380"'
    ]
  ])('%s', (_name, before, after) => {
    expect(rewriteConfig(before, at(6380)).text).toBe(after)
  })

  it('leaves a URL without a port alone when Redis is on the default port', () => {
    expect(rewriteConfig('tcp://10.0.1.23"', at(6379)).text).toBe('tcp://172.31.5.9"')
  })

  it('warns when a bare placeholder carries no port but Redis is not on 6379', () => {
    const result = rewriteConfig('REDIS_HOST=<<REDIS_IP>>\n', at(6380))
    expect(result.text).toBe('REDIS_HOST=172.31.5.9\n')
    expect(result.warnings).toEqual([
      expect.stringMatching(/^line 1 of the file names the Redis host without a port.*6380/)
    ])
    expect(rewriteConfig('REDIS_HOST=<<REDIS_IP>>\n', at(6379)).warnings).toEqual([])
  })

  it('does not take a host name or a longer dotted name for an address', () => {
    const text = 'a: tcp://10.0.0.5.nip.io:6379\nb: tcp://redis.internal:6379\nc: <<REDIS_IP>>'
    expect(rewriteConfig(text, at(6379)).text).toBe(
      'a: tcp://10.0.0.5.nip.io:6379\nb: tcp://redis.internal:6379\nc: 172.31.5.9'
    )
  })
})

describe('rewriteConfig refusals', () => {
  it('throws ConfigRewriteError listing what it looked for when nothing is recognisable', () => {
    const text = 'session.save_path = "tcp://redis.internal:6379"\nx: tcp://10.0.0.256:6379\n'
    let error: unknown
    try {
      rewriteConfig(text, AT)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigRewriteError)
    const message = (error as Error).message
    for (const form of LOOKED_FOR) expect(message).toContain(form)
    expect((error as ConfigRewriteError).lookedFor).toEqual(LOOKED_FOR)
  })

  it('throws for an empty file', () => {
    expect(() => rewriteConfig('', AT)).toThrow(ConfigRewriteError)
  })

  it.each([
    [{ ip: 'redis.internal', port: 6379 }, /not an IPv4 address/],
    [{ ip: '10.0.0.5', port: 0 }, /not a TCP port/],
    [{ ip: '10.0.0.5', port: 65536 }, /not a TCP port/],
    [{ ip: '10.0.0.5', port: 6379.5 }, /not a TCP port/]
  ])('rejects the endpoint %o', (endpoint, message) => {
    expect(() => rewriteConfig('tcp://<<REDIS_IP>>:6379', endpoint)).toThrow(message)
  })

  it('has no way to write a password: the endpoint is all it takes', () => {
    expect(rewriteConfig.length).toBe(2)
    const endpoint = { ip: '10.0.0.5', port: 6379, password: 'hunter2hunter2hunter2' }
    expect(rewriteConfig('tcp://<<REDIS_IP>>:6379', endpoint).text).toBe('tcp://10.0.0.5:6379')
  })
})

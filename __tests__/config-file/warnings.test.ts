import { describe, expect, it } from '@jest/globals'
import { configWarnings, lines } from '../../src/config-file/warnings.js'

describe('configWarnings', () => {
  it('names every line that writes under the retired Beanstalk hooks directory', () => {
    const text =
      'a\n  cmd: mkdir /opt/elasticbeanstalk/hooks/appdeploy/post\r\nb\n"/opt/elasticbeanstalk/hooks/x.sh":'
    const [warning, ...rest] = configWarnings(text)
    expect(rest).toEqual([])
    expect(warning).toMatch(/^lines 2, 4 use \/opt\/elasticbeanstalk\/hooks\//)
    expect(warning).toContain('Amazon Linux 2')
  })

  it.each([
    String.raw`sed -i 's/session.save_path\ =\ \"\/tmp\"/x/' php.ini`,
    String.raw`sed -i "s|^session\.save_path = .*|x|" /etc/php.ini`,
    String.raw`sed -e 's#session.save_path#y#'`
  ])('warns about a sed whose pattern cannot match ;session.save_path: %s', line => {
    expect(configWarnings(`x\n${line}\n`)).toEqual([
      expect.stringMatching(/^line 2: the sed looks for session\.save_path without the ';'/)
    ])
  })

  it.each([
    String.raw`sed -i 's/^;\?session.save_path = .*/session.save_path = "tcp:\/\/x"/' php.ini`,
    String.raw`sed -i 's/session.save_handler = files/session.save_handler = redis/' php.ini`,
    'echo "session.save_path = tcp://x" >> /etc/php.d/redis.ini',
    'session.save_path = "tcp://<<REDIS_IP>>:6379"'
  ])('stays quiet about %s', line => {
    expect(configWarnings(line)).toEqual([])
  })

  it('warns about a password in a save_path URL without repeating it', () => {
    const warnings = configWarnings(
      'a: tcp://10.0.0.5:6379?auth=s3cretpassword0000\nb: tcp:\\/\\/x:1?weight=1&auth[]=u&auth[]=p2'
    )
    expect(warnings).toEqual([expect.stringMatching(/^lines 1, 2 put a Redis password/)])
    expect(warnings[0]).not.toContain('s3cret')
  })

  it('says line or lines', () => {
    expect(lines([3])).toBe('line 3')
    expect(lines([3, 7])).toBe('lines 3, 7')
  })
})

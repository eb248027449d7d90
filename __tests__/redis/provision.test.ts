import { afterAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderRedisAuthConf, renderRedisConf, configHash } from '../../src/redis/config.js'
import { PROVISION_SCRIPT } from '../../src/redis/provision-script.js'
import {
  asRoot,
  provisionInput,
  provisionRedis,
  ProvisionError,
  redisLogTail,
  shellQuote
} from '../../src/redis/provision.js'
import type { ExecOptions, ExecResult, RemoteShell } from '../../src/redis/remote.js'

const PASSWORD = 'Zq8-xY7_wV6.uT5~sR4pQ3'
const inputs = { privateIp: '10.0.1.4', port: 6379, maxmemory: 'auto' as const }

/** A shell that answers from a script of canned results and records what it was asked. */
class RecordingShell implements RemoteShell {
  readonly calls: { command: string; options?: ExecOptions }[] = []
  constructor(private readonly answers: ExecResult[]) {}
  async exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ command, options })
    const answer = this.answers.shift()
    if (!answer) throw new Error(`unexpected command: ${command.slice(0, 80)}`)
    return answer
  }
  async forward(): Promise<never> {
    throw new Error('not used')
  }
  async close(): Promise<void> {}
}

const OK_LINE =
  'OPENEMR_REDIS_RESULT changed=true restarted=true installed=true version=7.0.15 port=6379 maxmemory=1610612736 sysctl=read-only thp=read-only pid=312 listen=10.0.1.4:6379,127.0.0.1:6379 os=debian-12'

const tmp = mkdtempSync(join(tmpdir(), 'provision-test-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('shellQuote and asRoot', () => {
  it('pass any text through sh as one word', () => {
    for (const text of ["it's", '$(id) `id` $HOME', 'a\nb', "'", '', '\\" \\\\']) {
      const out = spawnSync('sh', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' })
      expect(out.stdout).toBe(text)
    }
  })

  // Fake `id` and `sudo` show which branch runs without needing root or a real sudo.
  function runAsRoot(uid: number): { stdout: string; sudoArgs: string } {
    const bin = join(tmp, `bin-${uid}`)
    spawnSync('mkdir', ['-p', bin])
    writeFileSync(join(bin, 'id'), `#!/bin/sh\necho ${uid}\n`)
    writeFileSync(
      join(bin, 'sudo'),
      `#!/bin/sh\necho "$*" | head -c 20 > ${join(bin, 'sudo-args')}\nshift\nexec "$@"\n`
    )
    chmodSync(join(bin, 'id'), 0o755)
    chmodSync(join(bin, 'sudo'), 0o755)
    const script = `printf '%s|' "$0"; cat; echo "|it's here"`
    const out = spawnSync('sh', ['-c', asRoot(script)], {
      input: 'from stdin',
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin` }
    })
    const sudoArgs = spawnSync('cat', [join(bin, 'sudo-args')], { encoding: 'utf8' }).stdout
    return { stdout: out.stdout, sudoArgs }
  }

  it('runs the script with bash directly as root, keeping stdin for it', () => {
    expect(runAsRoot(0)).toEqual({ stdout: "openemr-redis|from stdin|it's here\n", sudoArgs: '' })
  })

  it('runs the script through sudo -n otherwise', () => {
    const { stdout, sudoArgs } = runAsRoot(1000)
    expect(stdout).toBe("openemr-redis|from stdin|it's here\n")
    expect(sudoArgs.startsWith('-n bash -c')).toBe(true)
  })
})

describe('provisionInput', () => {
  function decode(stdin: string): Record<string, string> {
    const items: Record<string, string> = {}
    const lines = stdin.trimEnd().split('\n')
    expect(lines.at(-1)).toBe('end')
    for (const line of lines.slice(0, -1)) {
      const [kind, name, data, ...rest] = line.split(' ')
      expect(rest).toEqual([])
      items[`${kind} ${name}`] = Buffer.from(data, 'base64').toString('utf8')
    }
    return items
  }

  it('carries only redis.conf when there is no password', () => {
    expect(decode(provisionInput(inputs))).toEqual({ 'file redis.conf': renderRedisConf(inputs) })
  })

  it('carries the credentials file and the password, base64-encoded, with a password', () => {
    const stdin = provisionInput({ ...inputs, password: PASSWORD })
    expect(stdin).not.toContain(PASSWORD)
    expect(decode(stdin)).toEqual({
      'file redis.conf': renderRedisConf({ ...inputs, password: PASSWORD }),
      'file auth.conf': renderRedisAuthConf(PASSWORD),
      'secret password': PASSWORD
    })
  })

  it('is read back exactly by the script’s own input loop', () => {
    // The script's first section, up to where it detaches stdin, run against a scratch /run.
    const section = PROVISION_SCRIPT.slice(0, PROVISION_SCRIPT.indexOf('exec </dev/null'))
      .replace('[ "$(id -u)" -eq 0 ] || fail "must run as root"', '')
      .replace('mktemp -d /run/openemr-redis.XXXXXX', `mktemp -d ${tmp}/stage.XXXXXX`)
      .replace(/trap on_exit EXIT/, '')
    const out = spawnSync(
      'bash',
      [
        '-c',
        `${section}\nfor f in "$stage"/*; do printf '%s=%s\\n' "$(basename "$f")" "$(base64 -w0 "$f")"; done`
      ],
      { input: provisionInput({ ...inputs, password: PASSWORD }), encoding: 'utf8' }
    )
    expect(out.stderr).toBe('')
    const files = Object.fromEntries(
      out.stdout
        .trim()
        .split('\n')
        .map(l => l.split('='))
        .map(([k, v]) => [k, Buffer.from(v ?? '', 'base64').toString('utf8')])
    )
    expect(files).toEqual({
      'auth.conf': renderRedisAuthConf(PASSWORD),
      password: PASSWORD,
      'redis.conf': renderRedisConf({ ...inputs, password: PASSWORD })
    })
  })

  it('makes the script refuse input without its end line', () => {
    const section = PROVISION_SCRIPT.slice(0, PROVISION_SCRIPT.indexOf('exec </dev/null'))
      .replace('[ "$(id -u)" -eq 0 ] || fail "must run as root"', '')
      .replace('mktemp -d /run/openemr-redis.XXXXXX', `mktemp -d ${tmp}/stage.XXXXXX`)
    const out = spawnSync('bash', ['-c', section], {
      input: provisionInput(inputs).replace('end\n', ''),
      encoding: 'utf8'
    })
    expect(out.status).toBe(1)
    expect(out.stdout).toBe('OPENEMR_REDIS_ERROR step=input input ended before its end line\n')
  })
})

describe('provisionRedis', () => {
  it('runs the script as root with the input on stdin and reads its result line', async () => {
    const shell = new RecordingShell([
      { code: 0, stdout: `${OK_LINE}\n`, stderr: 'openemr-redis: wrote /etc/redis/redis.conf\n' }
    ])
    const result = await provisionRedis(shell, { ...inputs, password: PASSWORD, timeoutMs: 1234 })
    expect(shell.calls).toHaveLength(1)
    expect(shell.calls[0].command).toBe(asRoot(PROVISION_SCRIPT))
    expect(shell.calls[0].command).not.toContain(PASSWORD)
    expect(shell.calls[0].options).toEqual({
      stdin: provisionInput({ ...inputs, password: PASSWORD }),
      timeoutMs: 1234
    })
    expect(result).toMatchObject({
      changed: true,
      restarted: true,
      installed: true,
      version: '7.0.15',
      configHash: configHash({ ...inputs, password: PASSWORD }),
      maxmemoryBytes: 1610612736,
      sysctl: 'read-only',
      thp: 'read-only',
      pid: 312,
      listen: ['10.0.1.4:6379', '127.0.0.1:6379'],
      os: 'debian-12',
      log: 'openemr-redis: wrote /etc/redis/redis.conf\n'
    })
  })

  it('reports an unchanged host', async () => {
    const line = OK_LINE.replace(
      'changed=true restarted=true installed=true',
      'changed=false restarted=false installed=false'
    )
    const result = await provisionRedis(
      new RecordingShell([{ code: 0, stdout: line, stderr: '' }]),
      inputs
    )
    expect([result.changed, result.restarted, result.installed]).toEqual([false, false, false])
  })

  it('names the failed step and shows the end of Redis’s log, with the password masked', async () => {
    const shell = new RecordingShell([
      {
        code: 1,
        stdout:
          'OPENEMR_REDIS_ERROR step=service redis-server did not start with the new configuration\n',
        stderr: 'openemr-redis: restarting redis-server\nJob for redis-server.service failed.\n'
      },
      {
        code: 0,
        stdout: `# Server initialized\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n>>> 'user default on >${PASSWORD}'\n`,
        stderr: ''
      }
    ])
    const error = await provisionRedis(shell, { ...inputs, password: PASSWORD }).catch(e => e)
    expect(error).toBeInstanceOf(ProvisionError)
    expect(error.step).toBe('service')
    expect(error.message).toContain("failed at step 'service': redis-server did not start")
    expect(error.message).toContain('Job for redis-server.service failed.')
    expect(error.message).toContain('FATAL CONFIG FILE ERROR')
    expect(error.message).not.toContain(PASSWORD)
    expect(shell.calls[1].command).toContain('tail -n 40 /var/log/redis/redis-server.log')
    expect(shell.calls[1].options?.stdin).toBeUndefined()
  })

  it('explains a login user without passwordless sudo', async () => {
    const shell = new RecordingShell([
      { code: 1, stdout: '', stderr: 'sudo: a password is required\n' }
    ])
    const error = await provisionRedis(shell, inputs).catch(e => e)
    expect(error).toBeInstanceOf(ProvisionError)
    expect(error.step).toBe('sudo')
    expect(error.message).toMatch(/passwordless sudo/)
    expect(shell.calls).toHaveLength(1)
  })

  it('treats a zero exit without a result line as a failure', async () => {
    const shell = new RecordingShell([
      { code: 0, stdout: 'garbage\n', stderr: '' },
      { code: 0, stdout: 'log', stderr: '' }
    ])
    await expect(provisionRedis(shell, inputs)).rejects.toThrow(/exit status 0/)
  })
})

describe('redisLogTail', () => {
  it('never throws: a failing shell becomes a sentence', async () => {
    expect(await redisLogTail(new RecordingShell([]))).toMatch(
      /could not read the Redis log: unexpected command/
    )
  })
})

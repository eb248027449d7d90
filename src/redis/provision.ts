import {
  configHash,
  renderRedisAuthConf,
  renderRedisConf,
  type RedisConfigInputs
} from './config.js'
import { REDIS_LOG_PATH, REDIS_UNIT } from './paths.js'
import { PROVISION_SCRIPT } from './provision-script.js'
import type { ExecResult, RemoteShell } from './remote.js'

export interface ProvisionOptions extends RedisConfigInputs {
  /** Limit for the whole script, apt included. Default 15 minutes. */
  timeoutMs?: number
}

export interface ProvisionResult {
  /** Whether anything on the host changed (package, a file, runtime tuning, service state). */
  changed: boolean
  /** Whether Redis was (re)started by this run. */
  restarted: boolean
  /** Whether redis-server was installed by this run. */
  installed: boolean
  /** redis-server's version, like 7.0.15. */
  version: string
  /** configHash of the inputs, for the instance tag. */
  configHash: string
  maxmemoryBytes: number
  /** 'applied', 'unchanged' or 'read-only' (a container: the sysctl.d file applies at boot). */
  sysctl: string
  /** 'never', 'set-never', 'read-only' or 'absent'. */
  thp: string
  /** Redis's main process id, to tell a restart from none. */
  pid: number
  /** Listening addresses (`ip:port`), when ss is available on the host. */
  listen: string[]
  /** `ID-VERSION_ID` from /etc/os-release, like ubuntu-24.04. */
  os: string
  durationMs: number
  /** The script's progress lines (stderr), for a collapsed log group. */
  log: string
}

export class ProvisionError extends Error {
  constructor(
    message: string,
    readonly step: string,
    readonly output: string,
    readonly redisLog: string
  ) {
    super(message)
    this.name = 'ProvisionError'
  }
}

const RESULT_PREFIX = 'OPENEMR_REDIS_RESULT '
const ERROR_PREFIX = 'OPENEMR_REDIS_ERROR '

/** Quotes a string as one word for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/**
 * Runs a bash script as root from the login user's shell: directly when the user is root,
 * otherwise through passwordless sudo (the cloud images' login users have it). The script is
 * an argument, so the command's stdin stays free for the script's own input.
 */
export function asRoot(script: string): string {
  const s = shellQuote(script)
  return `if [ "$(id -u)" = 0 ]; then exec bash -c ${s} openemr-redis; else exec sudo -n bash -c ${s} openemr-redis; fi`
}

/** The script's stdin: the files to install and the password for its PING, all base64. */
export function provisionInput(inputs: RedisConfigInputs): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
  const lines = [`file redis.conf ${b64(renderRedisConf(inputs))}`]
  if (inputs.password) {
    lines.push(`file auth.conf ${b64(renderRedisAuthConf(inputs.password))}`)
    lines.push(`secret password ${b64(inputs.password)}`)
  }
  lines.push('end')
  return lines.join('\n') + '\n'
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n')
}

function parseResult(line: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const pair of line.slice(RESULT_PREFIX.length).trim().split(/\s+/)) {
    const eq = pair.indexOf('=')
    if (eq > 0) fields[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return fields
}

/** The last lines of Redis's log and its journal, for an error message; never throws. */
export async function redisLogTail(shell: RemoteShell): Promise<string> {
  try {
    const r = await shell.exec(
      asRoot(
        `tail -n 40 ${REDIS_LOG_PATH} 2>&1; echo '--- journal (${REDIS_UNIT})'; ` +
          `journalctl -u ${REDIS_UNIT} -n 20 --no-pager 2>&1 || true`
      ),
      { timeoutMs: 20000 }
    )
    return (r.stdout + r.stderr).trimEnd()
  } catch (e) {
    return `(could not read the Redis log: ${(e as Error).message})`
  }
}

function explain(result: ExecResult): { step: string; reason: string } {
  const errorLine = result.stdout
    .split('\n')
    .reverse()
    .find(l => l.startsWith(ERROR_PREFIX))
  if (errorLine) {
    const m = /^OPENEMR_REDIS_ERROR step=(\S+)\s*(.*)$/.exec(errorLine)
    if (m) return { step: m[1], reason: m[2] }
  }
  if (/sudo: .*password is required|sudo: a terminal is required/.test(result.stderr))
    return {
      step: 'sudo',
      reason:
        'the ssh-user has no passwordless sudo; use the image’s default login user (ubuntu, admin)'
    }
  if (/sudo: .*not found|bash: .*not found/.test(result.stderr))
    return { step: 'start', reason: 'the host has no sudo or bash' }
  return {
    step: 'unknown',
    reason: `the script ended with ${result.code === null ? `signal ${result.signal ?? '?'}` : `exit status ${result.code}`}`
  }
}

/**
 * Installs and configures Redis on the host through the shell, idempotently: a second run with
 * the same options changes no file and does not restart Redis. The password travels only in
 * the command's stdin; it is never in a command line, a file in clear, or a message.
 */
export async function provisionRedis(
  shell: RemoteShell,
  options: ProvisionOptions
): Promise<ProvisionResult> {
  const { timeoutMs = 15 * 60 * 1000, ...inputs } = options
  const hash = configHash(inputs)
  const redact = (text: string) =>
    inputs.password ? text.split(inputs.password).join('***') : text
  const start = Date.now()
  const result = await shell.exec(asRoot(PROVISION_SCRIPT), {
    stdin: provisionInput(inputs),
    timeoutMs
  })
  const durationMs = Date.now() - start
  const resultLine = result.stdout
    .split('\n')
    .reverse()
    .find(l => l.startsWith(RESULT_PREFIX))

  if (result.code !== 0 || !resultLine) {
    const { step, reason } = explain(result)
    const output = redact(lastLines(result.stderr, 30))
    const redisLog = step === 'input' || step === 'sudo' ? '' : redact(await redisLogTail(shell))
    const message =
      `Redis provisioning failed at step '${step}': ${redact(reason)}` +
      (output ? `\n--- script output (last lines) ---\n${output}` : '') +
      (redisLog ? `\n--- ${REDIS_LOG_PATH} (last lines) ---\n${redisLog}` : '')
    throw new ProvisionError(message, step, output, redisLog)
  }

  const f = parseResult(resultLine)
  return {
    changed: f.changed === 'true',
    restarted: f.restarted === 'true',
    installed: f.installed === 'true',
    version: f.version ?? '',
    configHash: hash,
    maxmemoryBytes: Number(f.maxmemory),
    sysctl: f.sysctl ?? '',
    thp: f.thp ?? '',
    pid: Number(f.pid),
    listen: f.listen && f.listen !== 'unknown' ? f.listen.split(',').filter(Boolean) : [],
    os: f.os ?? '',
    durationMs,
    log: redact(result.stderr)
  }
}

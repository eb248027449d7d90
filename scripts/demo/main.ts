// npm run demo: the action's whole job on this machine, without an AWS account or GitHub —
// the committed bundle under Node 24 against moto, with real Debian hosts for the instances
// and a local GitHub API over a real git repository. `--check` only checks prerequisites.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { DEFAULT_CONFIG_PATH } from '../../src/inputs.js'
import { killRunningBundle, displayLine, runBundle, type BundleRun } from './bundle.js'
import { checkPrerequisites, rootfsCached, type Check } from './prerequisites.js'
import { connectFromRunner, parseReplies, redisFrom } from './probes.js'
import { linkExists, subnetOf } from '../../__tests__/support/test-host/network.js'
import { APP_ADDRESS, HOST_PREFIX, startStack, type Stack } from './stack.js'
import {
  livingChildren,
  namespacesLeft,
  Teardown,
  onFirstSignal,
  stopNewChildren,
  type StepResult
} from './teardown.js'
import {
  elapsedSeconds,
  fail,
  heading,
  mute,
  pass,
  progress,
  renderMarkdown,
  say,
  stamp,
  style,
  terminalWidth,
  transcript,
  unmuted,
  wrap
} from './terminal.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const STRAYS = 'stray child processes'
const PHASE_LINE = /^[a-z][a-z ()-]*: \d+\.\d s$/

/** Every claim the demo makes, recorded as it is checked, so the exit code reflects them all. */
class Claims {
  readonly failed: string[] = []
  count = 0
  check(ok: boolean, text: string, why = ''): boolean {
    this.count++
    if (ok) pass(text)
    else {
      fail(`${text}${why ? ` — ${why}` : ''}`)
      this.failed.push(text)
    }
    return ok
  }
}

function showPrerequisites(checks: Check[]): boolean {
  for (const c of checks) {
    if (c.ok) say(`  ${style.green('✓')} ${c.name.padEnd(15)} ${style.dim(c.detail)}`)
    else say(`  ${style.red('✗')} ${c.name.padEnd(15)} ${c.detail}`)
  }
  const missing = checks.filter(c => !c.ok)
  if (missing.length === 0) return true
  say()
  say(style.bold(`Missing ${missing.length}; to get ${missing.length === 1 ? 'it' : 'them'}:`))
  for (const c of missing) say(`  ${c.name.padEnd(15)} ${c.fix}`)
  return false
}

/** A long warning's first sentence; the job summary and the log on a runner carry it whole. */
function firstSentence(text: string): string {
  const end = text.search(/\.\s/)
  return end > 0 && end < text.length - 2 ? `${text.slice(0, end + 1)} …` : text
}

/** Shows one line of the bundle's output, as it arrives, the way a runner's log would. */
function showBundleLine(stream: 'stdout' | 'stderr', text: string): void {
  const line = displayLine(text)
  if (!line) return
  const [paint, body]: [(s: string) => string, string] =
    stream === 'stderr'
      ? [style.red, `stderr: ${line.text}`]
      : line.kind === 'warning'
        ? [style.yellow, `warning: ${firstSentence(line.text)}`]
        : line.kind === 'error'
          ? [style.red, `error: ${line.text}`]
          : line.kind === 'group' || PHASE_LINE.test(line.text)
            ? [style.bold, line.text]
            : [(s: string) => s, line.text]
  // The prefix is 14 columns wide; pieces are painted one by one so colour survives the wrap.
  const prefix = `  ${stamp()} ${style.dim('│')} `
  for (const part of body.split('\n'))
    for (const piece of wrap(part, terminalWidth() - 14, '    ')) say(prefix + paint(piece))
}

async function action(
  title: string,
  inputs: Record<string, string>,
  env: Record<string, string>,
  state?: Record<string, string>
): Promise<BundleRun> {
  heading(title)
  const run = await runBundle({ root: ROOT, inputs, env, state, onLine: showBundleLine })
  const how = run.code === 0 ? style.green('exit code 0') : style.red(`exit code ${run.code}`)
  progress(`the bundle finished in ${run.seconds.toFixed(1)} s, ${how}`)
  return run
}

function showOutputs(outputs: Record<string, string>): void {
  const width = Math.max(...Object.keys(outputs).map(k => k.length))
  for (const [name, value] of Object.entries(outputs))
    say(`  ${name.padEnd(width)}   ${value === '' ? style.dim('(empty)') : value}`)
}

function colourDiff(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map(l =>
      /^\+(?!\+\+)/.test(l)
        ? style.green(l)
        : /^-(?!--)/.test(l)
          ? style.red(l)
          : /^(@@|commit )/.test(l)
            ? style.cyan(l)
            : l
    )
    .map(l => `  ${l}`)
}

/** Redis from the app server: with the password it stores and returns a session; without, NOAUTH. */
async function proveRedis(
  stack: Stack,
  claims: Claims,
  ip: string,
  port: number,
  password: string
): Promise<void> {
  const key = 'PHPREDIS_SESSION:demo'
  const value = `openemr-session-${randomBytes(4).toString('hex')}`
  say(`  from the OpenEMR app server ${stack.app.address} to ${ip}:${port} (bash /dev/tcp, RESP):`)
  const replies = parseReplies(
    await redisFrom(stack.app, ip, port, [
      ['AUTH', password],
      ['SET', key, value, 'EX', '60'],
      ['GET', key]
    ])
  )
  const shown = [`AUTH ${'•'.repeat(8)}`, `SET ${key} ${value} EX 60`, `GET ${key}`, 'QUIT']
  const w = Math.max(...shown.map(s => s.length))
  shown.forEach((s, i) => say(`    ${s.padEnd(w)}  → ${replies[i] ?? style.red('(no reply)')}`))
  const unauthenticated = parseReplies(await redisFrom(stack.app, ip, port, [['GET', key]]))
  say(`    ${'GET without AUTH'.padEnd(w)}  → ${unauthenticated[0] ?? style.red('(no reply)')}`)
  claims.check(
    replies[0] === '+OK' && replies[1] === '+OK' && replies[2] === JSON.stringify(value),
    'Redis stores and returns a session for a client-group host that authenticates'
  )
  claims.check(
    (unauthenticated[0] ?? '').startsWith('-NOAUTH'),
    'Redis refuses a client that does not authenticate'
  )
}

async function proveLockdown(
  stack: Stack,
  claims: Claims,
  instanceId: string,
  ip: string,
  port: number
): Promise<void> {
  const host = await stack.cloud.waitForHost(instanceId)
  const listening = await host.exec(`ss -Hltn '( sport = :${port} )' | awk '{print $4}' | sort`)
  const sockets = listening.stdout.trim().split('\n').filter(Boolean)
  claims.check(
    sockets.length === 2 &&
      sockets.includes(`${ip}:${port}`) &&
      sockets.includes(`127.0.0.1:${port}`),
    `Redis listens on ${sockets.join(' and ') || 'nothing'} only (ss inside the instance)`
  )
  // A timeout alone could mean a dead host: show that both services are up inside it.
  const sshd = await host.exec("ss -Hltn '( sport = :22 )' | wc -l")
  const up = { SSH: Number(sshd.stdout.trim()) > 0, Redis: sockets.length > 0 }
  const runner = stack.app.router
  const services = [
    ['SSH', 22],
    ['Redis', port]
  ] as const
  const results = await Promise.all(services.map(([, p]) => connectFromRunner(ip, p)))
  services.forEach(([service, p], i) =>
    claims.check(
      results[i] !== 'open' && up[service],
      `${service} ${ip}:${p} from the runner (${runner}): ${results[i]}, though it listens inside — the security group drops it`,
      results[i] === 'open' ? 'it answered' : 'it is not listening inside either'
    )
  )
}

/** Where the password could leak: everything shown, the summaries, outputs and the commit. */
function provePasswordHidden(
  claims: Claims,
  password: string,
  runs: BundleRun[],
  committed: string
): void {
  const logs = runs.flatMap(r => r.lines.map(l => l.text))
  const maskCommands = logs.filter(l => l.startsWith('::add-mask::'))
  const shown = logs.filter(l => !l.startsWith('::add-mask::'))
  const places = [
    ...shown,
    ...runs.flatMap(r => [r.summary, ...Object.values(r.outputs)]),
    committed,
    transcript()
  ]
  const hits = places.filter(p => p.includes(password)).length
  claims.check(
    hits === 0,
    `the Redis password appears nowhere: 0 of ${shown.length} log lines, ${runs.length} job summaries, the outputs, the commit and this transcript`,
    `found in ${hits} places`
  )
  const masks = maskCommands.filter(l => l.includes(password)).length
  say(
    style.dim(
      `    (the bundle names it only in ${masks} ::add-mask:: commands, which tell the runner what to hide and are never displayed)`
    )
  )
}

async function demo(stack: Stack, claims: Claims): Promise<void> {
  const password = `demo-${randomBytes(16).toString('hex')}`
  const port = 6379
  const env = { ...stack.moto.env, GITHUB_API_URL: stack.github.url }
  const inputs = {
    'aws-region': stack.moto.region,
    'vpc-id': stack.vpc.vpcId,
    'subnet-id': stack.vpc.publicSubnetId,
    // The runner stands inside the VPC (the subnet's .1), like a self-hosted runner.
    'ssh-via': 'private',
    'elastic-ip': 'none',
    'redis-password': password,
    'config-repository': `${stack.github.owner}/${stack.github.repo}`,
    'github-token': stack.github.token,
    'timeout-seconds': '600'
  }
  say(
    style.dim(
      `  Redis password: a fresh random one for this run (${password.length} characters), passed as the redis-password input; it is never printed.`
    )
  )

  const applied = await action(
    '1. apply — the bundle under Node 24, as a runner runs it',
    inputs,
    env
  )
  claims.check(
    applied.code === 0,
    applied.code === 0 ? 'apply succeeded' : 'apply failed',
    `exit code ${applied.code}`
  )
  if (applied.code !== 0) return
  const ip = applied.outputs['private-ip']
  const instanceId = applied.outputs['instance-id']

  heading('Outputs')
  showOutputs(applied.outputs)
  heading('Job summary (rendered from GITHUB_STEP_SUMMARY)')
  for (const line of renderMarkdown(applied.summary)) say(line)

  heading(`Committed change (git show in the bare repository behind the local GitHub API)`)
  const sha = applied.outputs['config-commit-sha']
  const committed = sha ? await stack.github.git.text(['show', '--format=medium', sha]) : ''
  for (const line of colourDiff(committed)) say(line)
  const file = sha ? await stack.github.git.text(['show', `${sha}:${DEFAULT_CONFIG_PATH}`]) : ''
  claims.check(
    file.includes(`${ip}:${port}`) && !file.includes('<<REDIS_IP>>'),
    `${DEFAULT_CONFIG_PATH} at ${sha.slice(0, 7) || '(no commit)'} names ${ip}:${port}`
  )
  claims.check(
    stack.github.violations.length === 0,
    `every request to the local GitHub API matched GitHub's OpenAPI description (${stack.github.requests.length} requests)`,
    stack.github.violations.join('; ')
  )

  const post = await action('2. post step — what the runner runs after the job', inputs, env, {
    ...applied.state,
    isPost: 'true'
  })
  claims.check(
    post.code === 0,
    post.code === 0 ? 'the post step succeeded' : 'the post step failed',
    `exit code ${post.code}`
  )

  heading('3. proof on the machine')
  await stack.cloud.synced()
  await proveRedis(stack, claims, ip, port, password)
  await proveLockdown(stack, claims, instanceId, ip, port)
  claims.check(
    stack.cloud.errors.length === 0,
    'the fake cloud met no errors',
    stack.cloud.errors.join('; ')
  )

  const motoBefore = await stack.moto.stateSnapshot()
  const headBefore = await stack.github.git.branchSha('master')
  const planned = await action('4. plan — read-only', { ...inputs, mode: 'plan' }, env)
  claims.check(
    planned.code === 0 && planned.outputs.changed === 'false',
    'plan reports no change (output changed=false)',
    `exit code ${planned.code}, changed=${planned.outputs.changed}`
  )
  claims.check(
    (await stack.moto.stateSnapshot()) === motoBefore &&
      (await stack.github.git.branchSha('master')) === headBefore,
    'plan changed nothing in moto or in the repository'
  )

  const destroyed = await action('5. destroy', { ...inputs, mode: 'destroy' }, env)
  for (const line of renderMarkdown(destroyed.summary)) say(line)
  await stack.cloud.synced()
  claims.check(
    destroyed.code === 0 && destroyed.outputs.changed === 'true' && !stack.cloud.host(instanceId),
    `destroy removed the deployment; the instance's host ${instanceId} is powered off`,
    `exit code ${destroyed.code}`
  )

  heading('Secrets')
  provePasswordHidden(claims, password, [applied, post, planned, destroyed], committed)
}

function showTeardown(results: StepResult[]): void {
  for (const r of results) {
    if (r.name === STRAYS) continue
    if (r.error) fail(`${r.name}: ${r.error}`)
    else say(`  stopped ${r.name} ${style.dim(`(${r.seconds.toFixed(1)} s)`)}`)
  }
}

async function main(): Promise<number> {
  const checkOnly = process.argv.includes('--check')
  say(style.bold('openemr-redis-action demo'))
  say(
    style
      .dim(
        'The whole job on this machine, without an AWS account: moto answers the EC2 and SSM API, each instance it launches boots as a real Debian host (systemd-nspawn) with its security groups enforced by nftables, and a local GitHub API keeps the config repository in a real git repository.'
      )
      .split('\n')
      .flatMap(l => wrap(l, terminalWidth(), ''))
      .join('\n')
  )
  heading('Prerequisites')
  if (!showPrerequisites(checkPrerequisites(ROOT))) return 1
  if (checkOnly) return 0
  if (!rootfsCached())
    say(
      style.yellow(
        '  The Debian root filesystem is built once now (about a minute, from the Debian mirror).'
      )
    )

  const teardown = new Teardown()
  // tsx keeps an esbuild service as a child of this process; only what appears after this counts.
  const before = new Set(livingChildren().map(c => c.pid))
  const claims = new Claims()
  const strays: string[] = []
  // Added first, so it runs last: whatever the orderly stops above it could not reach.
  teardown.add(STRAYS, async () => strays.push(...(await stopNewChildren(before))))
  const tearDown = async () => {
    const results = await teardown.run()
    const children = livingChildren().filter(c => !before.has(c.pid))
    const namespaces = namespacesLeft(`oer-${HOST_PREFIX}-`)
    const bridge = subnetOf(APP_ADDRESS, 24).bridge
    const leftovers = [
      ...children.map(c => `${c.name} ${c.pid}`),
      ...namespaces,
      ...((await linkExists(bridge)) ? [`bridge ${bridge}`] : [])
    ]
    return () => {
      heading('Teardown')
      showTeardown(results)
      if (strays.length) say(style.yellow(`  had to stop ${strays.join(', ')}`))
      return claims.check(
        leftovers.length === 0,
        'nothing left behind: no child process, network namespace or bridge of the demo',
        leftovers.join(', ')
      )
    }
  }
  const interrupted = onFirstSignal(async signal => {
    say()
    say(style.yellow(`${signal}: stopping the bundle and tearing down…`))
    mute()
    killRunningBundle()
    const show = await tearDown()
    unmuted(() => {
      const clean = show()
      say()
      say(
        style.yellow(
          `Interrupted by ${signal}; ${clean ? 'everything the demo started is stopped' : 'see above what is left'}.`
        )
      )
    })
  })

  let failure: unknown
  try {
    heading('Starting the stand-ins')
    const stack = await startStack(ROOT, teardown, progress)
    await demo(stack, claims)
  } catch (error) {
    failure = error
  }
  // The signal handler tears down, reports and exits; this flow only waits for it.
  if (interrupted()) await new Promise(() => undefined)
  ;(await tearDown())()
  say()
  if (failure) {
    say(
      style.red(`The demo failed: ${failure instanceof Error ? failure.message : String(failure)}`)
    )
    return 1
  }
  if (claims.failed.length) {
    say(style.red(`${claims.failed.length} of ${claims.count} checks failed (listed above).`))
    return 1
  }
  say(
    style.bold(
      style.green(`All ${claims.count} checks passed in ${elapsedSeconds().toFixed(1)} s.`)
    )
  )
  return 0
}

process.exitCode = await main()
// Everything the demo started has been stopped and checked by now. Should a handle of the
// harness still be open, name it and end anyway rather than hold the terminal (or CI) forever.
setTimeout(() => {
  say(style.dim(`(handles still open at the end: ${process.getActiveResourcesInfo().join(', ')})`))
  process.exit()
}, 2_000).unref()

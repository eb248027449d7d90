// Item 3 of issue 7: how long the bundle takes to start under Node 24, against `node -e 0`,
// and whether ncc --minify or lazy imports make it start sooner. Two moments per run:
// - the first output line, with no inputs at all (the action prints it once every module of
//   the bundle has loaded and run() begins);
// - the first AWS request of a plan, with valid inputs and the EC2/SSM endpoints pointed at a
//   loopback server that only notes the request's arrival: the moment the action starts
//   doing its work, which is what a user waits for (lazy imports can move the first line
//   earlier without moving this).
import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { NODE24 } from '../__tests__/support/run-action.js'
import { lazyImport, scratchBuild, type Build, type Variant } from './lib/scratch-build.js'
import { median, spread, type Spread } from './lib/stats.js'

export const RUNS = 21

// Modes load on use; apply and plan load the GitHub client and SSH/Redis only when they publish
// or provision (a converged re-run never does).
const LAZY: Variant['rewrites'] = {
  'src/main.ts': ['apply', 'destroy', 'plan'].map(m => [
    `import { ${m} } from './modes/${m}.js'\n`,
    `${lazyImport([m], `./modes/${m}.js`)}\n`
  ]),
  'src/modes/apply.ts': [
    [
      "import { publishConfig } from '../config-file/github.js'\n",
      `${lazyImport(['publishConfig'], '../config-file/github.js')}\n`
    ],
    [
      "import { provisionOverSsh } from './provision-step.js'\n",
      `${lazyImport(['provisionOverSsh'], './provision-step.js')}\n`
    ]
  ],
  'src/modes/plan.ts': [
    [
      "import { publishConfig } from '../config-file/github.js'\n",
      `${lazyImport(['publishConfig'], '../config-file/github.js')}\n`
    ]
  ]
}

// Not ncc: esbuild, reading the AWS SDK from its ES modules ("module" before "main"), which lets
// it leave out the parts of @aws-sdk/client-ec2 the action never calls. ncc has no such switch.
const ESBUILD = [
  '--platform=node',
  '--format=esm',
  '--target=node24',
  '--main-fields=module,main',
  '--external:cpu-features',
  '--external:*.node',
  '--log-level=error',
  // CommonJS dependencies call require(); an ES module bundle has to provide it.
  "--banner:js=import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);"
]

export const CONTROL = 'ncc, as npm run package'

const VARIANTS: Variant[] = [
  // The control: built exactly as `npm run package` builds dist/, from the same source as the rest.
  { name: CONTROL, flags: [] },
  { name: 'ncc --minify', flags: ['--minify'] },
  { name: 'ncc, lazy imports', flags: [], rewrites: LAZY },
  { name: 'esbuild, SDK as ES modules', builder: 'esbuild', flags: ESBUILD },
  {
    name: 'esbuild, SDK as ES modules, lazy imports',
    builder: 'esbuild',
    flags: [...ESBUILD, '--splitting'],
    rewrites: LAZY
  }
]

const PLAN_INPUTS: Record<string, string> = {
  mode: 'plan',
  'vpc-id': 'vpc-0a1b2c3d4e5f67890',
  'aws-region': 'us-east-1'
}

/** Spawn → first stdout byte, in ms; the process is left to finish by itself. */
function firstLine(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(NODE24, [script], {
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'ignore']
    })
    let at: number | undefined
    child.stdout.once('data', () => {
      at = Number(process.hrtime.bigint() - started) / 1e6
    })
    child.stdout.resume()
    child.on('error', reject)
    child.on('close', () =>
      at === undefined ? reject(new Error(`${script} printed nothing`)) : resolve(at)
    )
  })
}

function nodeE0(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(NODE24, ['-e', '0'], { stdio: 'ignore' })
    child.on('error', reject)
    child.on('close', () => resolve(Number(process.hrtime.bigint() - started) / 1e6))
  })
}

/** Spawn → arrival of the first AWS request at `server`; then the process is killed. */
function firstRequest(script: string, server: Server): Promise<number> {
  const { port } = server.address() as AddressInfo
  const endpoint = `http://127.0.0.1:${port}`
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AWS_ENDPOINT_URL_EC2: endpoint,
    AWS_ENDPOINT_URL_SSM: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true'
  }
  for (const [k, v] of Object.entries(PLAN_INPUTS)) env[`INPUT_${k.toUpperCase()}`] = v
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(NODE24, [script], { env, stdio: 'ignore' })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    let at: number | undefined
    const onRequest = () => {
      at ??= Number(process.hrtime.bigint() - started) / 1e6
      child.kill('SIGKILL')
    }
    server.once('request', onRequest)
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(timer)
      server.off('request', onRequest)
      if (at === undefined) reject(new Error(`${script} sent no AWS request`))
      else resolve(at)
    })
  })
}

export interface StartupVariant {
  variant: string
  bytes: number
  entryBytes: number
  files: number
  buildSeconds?: number
  firstLineMs: number
  firstLineRatio: number
  firstRequestMs: number
  firstRequestRatio: number
  /**
   * Against the control build (same source, built as `npm run package` does), round by round:
   * this variant's time to the first AWS request ÷ the control's. Below 1 is faster.
   */
  vsControl?: Spread
  error?: string
}

export interface StartupResults {
  runs: number
  nodeE0Ms: number
  variants: StartupVariant[]
}

export async function startupBench(
  repo: string,
  progress: (s: string) => void
): Promise<StartupResults> {
  const targets: { name: string; script: string; build?: Build; error?: string }[] = [
    { name: 'dist/index.js (committed)', script: join(repo, 'dist/index.js') }
  ]
  for (const variant of VARIANTS) {
    progress(`scratch build: ${variant.name}`)
    try {
      const build = scratchBuild(variant, repo)
      targets.push({ name: variant.name, script: join(build.dir, 'index.js'), build })
    } catch (error) {
      targets.push({
        name: variant.name,
        script: '',
        error: (error as Error).message.split('\n')[0]
      })
    }
  }
  const server = createServer((_req, res) => res.socket?.destroy())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  try {
    const e0: number[] = []
    const lines = new Map<string, number[]>()
    const requests = new Map<string, number[]>()
    const live = targets.filter(t => t.script)
    // Interleaved, so drift on a shared machine falls on every variant alike.
    progress(`cold starts: ${RUNS} rounds of node -e 0 and ${live.length} bundles`)
    for (let round = 0; round < RUNS; round++) {
      e0.push(await nodeE0())
      for (const t of live) {
        lines.set(t.name, [...(lines.get(t.name) ?? []), await firstLine(t.script)])
        requests.set(t.name, [
          ...(requests.get(t.name) ?? []),
          await firstRequest(t.script, server)
        ])
      }
    }
    const base = median(e0)
    const control = requests.get(CONTROL) ?? []
    return {
      runs: RUNS,
      nodeE0Ms: base,
      variants: targets.map(t => {
        const bytes = t.build?.bytes ?? (t.script ? statSync(t.script).size : 0)
        const firstLineMs = median(lines.get(t.name) ?? [])
        const firstRequestMs = median(requests.get(t.name) ?? [])
        return {
          variant: t.name,
          bytes,
          entryBytes: t.build?.entryBytes ?? bytes,
          files: t.build?.files ?? 1,
          buildSeconds: t.build?.buildSeconds,
          firstLineMs,
          firstLineRatio: firstLineMs / base,
          firstRequestMs,
          firstRequestRatio: firstRequestMs / base,
          ...(control.length && requests.get(t.name)?.length
            ? { vsControl: spread((requests.get(t.name) ?? []).map((v, i) => v / control[i])) }
            : {}),
          ...(t.error ? { error: t.error } : {})
        }
      })
    }
  } finally {
    server.closeAllConnections()
    await new Promise(r => server.close(r))
  }
}

// Scratch builds of the action for the start-up experiments, never in dist/: the committed
// source (git HEAD, not whatever is being edited in the tree) exported to a temporary
// directory, optionally rewritten to import some modules lazily, and bundled with the same ncc
// as `npm run package`. Builds are kept by content (source tree, variant, ncc version), so a
// second bench run reuses them: ncc --minify alone takes minutes on two cores.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export interface Variant {
  name: string
  /** ncc by default (as `npm run package`); esbuild to see what another bundler gives. */
  builder?: 'ncc' | 'esbuild'
  /** Extra bundler flags. */
  flags: string[]
  /** Source rewrites: file → [exact text, replacement][]; a rewrite that no longer applies skips the variant. */
  rewrites?: Record<string, [string, string][]>
}

export interface Build {
  variant: string
  dir: string
  /** All .js files of the build (a lazy build has chunks beside index.js). */
  bytes: number
  entryBytes: number
  files: number
  buildSeconds: number
  cached: boolean
}

/** `import { f } from 'm'` of an async function → a stand-in that loads 'm' on its first call. */
export function lazyImport(names: string[], from: string): string {
  return names
    .map(
      n =>
        `const ${n}: (typeof import('${from}'))['${n}'] = async (...args) => (await import('${from}')).${n}(...args)`
    )
    .join('\n')
}

function applyRewrites(root: string, rewrites: Record<string, [string, string][]>): void {
  for (const [file, pairs] of Object.entries(rewrites)) {
    const path = join(root, file)
    let text = readFileSync(path, 'utf8')
    for (const [from, to] of pairs) {
      if (!text.includes(from))
        throw new Error(`${file} no longer contains ${JSON.stringify(from)}`)
      text = text.replace(from, to)
    }
    writeFileSync(path, text)
  }
}

const git = (args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim()

export function scratchBuild(variant: Variant, repo: string): Build {
  const tree = git(['rev-parse', 'HEAD:src'])
  const ncc = JSON.parse(
    readFileSync(join(repo, 'node_modules/@vercel/ncc/package.json'), 'utf8')
  ).version
  const key = createHash('sha256')
    .update(JSON.stringify({ tree, ncc, variant }))
    .digest('hex')
    .slice(0, 16)
  const base = join(tmpdir(), 'openemr-redis-bench-builds')
  const out = join(base, `${variant.name}-${key}`)
  const done = join(out, '.complete')
  let buildSeconds: number
  const cached = existsSync(done)
  if (!cached) {
    const work = join(base, `src-${key}`)
    rmSync(work, { recursive: true, force: true })
    rmSync(out, { recursive: true, force: true })
    mkdirSync(work, { recursive: true })
    execFileSync('bash', [
      '-c',
      `git archive HEAD src tsconfig.json package.json | tar -x -C '${work}'`
    ])
    symlinkSync(resolve(repo, 'node_modules'), join(work, 'node_modules'))
    if (variant.rewrites) applyRewrites(work, variant.rewrites)
    const started = Date.now()
    const [bin, args] =
      variant.builder === 'esbuild'
        ? ['esbuild', ['src/index.ts', '--bundle', `--outdir=${out}`, ...variant.flags]]
        : [
            'ncc',
            [
              'build',
              'src/index.ts',
              '--out',
              out,
              '--target',
              'es2022',
              '--quiet',
              ...variant.flags
            ]
          ]
    execFileSync(resolve(repo, 'node_modules/.bin', bin), args, {
      cwd: work,
      stdio: ['ignore', 'ignore', 'pipe']
    })
    // An ES module bundle needs its directory to say so (ncc writes this itself).
    if (!existsSync(join(out, 'package.json')))
      writeFileSync(join(out, 'package.json'), '{"type":"module"}\n')
    buildSeconds = (Date.now() - started) / 1000
    writeFileSync(done, String(buildSeconds))
    rmSync(work, { recursive: true, force: true })
  } else buildSeconds = Number(readFileSync(done, 'utf8'))
  const js = readdirSync(out).filter(f => f.endsWith('.js'))
  const size = (f: string) => statSync(join(out, f)).size
  return {
    variant: variant.name,
    dir: out,
    bytes: js.reduce((s, f) => s + size(f), 0),
    entryBytes: size('index.js'),
    files: js.length,
    buildSeconds,
    cached
  }
}

// Builds dist/ with ncc. Wrapped in a script so that dist/ holds exactly what the build
// writes: stale chunks are removed first, and the result must not contain native addons.
import { execFileSync } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'

rmSync('dist', { recursive: true, force: true })
execFileSync(
  'npx',
  [
    'ncc',
    'build',
    'src/index.ts',
    '--out',
    'dist',
    '--license',
    'licenses.txt',
    '--target',
    'es2022',
    '--quiet'
  ],
  { stdio: 'inherit' }
)
const addons = readdirSync('dist', { recursive: true }).filter(f => String(f).endsWith('.node'))
if (addons.length > 0) {
  console.error(`dist/ contains native addons, which differ per machine: ${addons.join(', ')}`)
  process.exit(1)
}

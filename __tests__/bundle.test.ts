// The committed bundle must load and validate under both runtimes: Node 20 (the machine's) and
// Node 24 (what GitHub runs for `using: node24`, from the node24 devDependency).
import { describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'

const run = promisify(execFile)
const NODE24 = 'node_modules/node24/bin/node'

const runtimes: [string, string][] = [
  ['the machine Node', process.execPath],
  ['Node 24', NODE24]
]

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME }
  return env
}

describe('dist/index.js', () => {
  it('exists (run npm run package)', () => {
    expect(existsSync('dist/index.js')).toBe(true)
    expect(existsSync(NODE24)).toBe(true)
  })

  it.each(runtimes)(
    'under %s, with no inputs, exits 1 naming the missing inputs',
    async (_n, node) => {
      const result = await run(node, ['dist/index.js'], { env: cleanEnv() }).then(
        () => ({ code: 0, stdout: '' }),
        (e: { code: number; stdout: string }) => e
      )
      expect(result.code).toBe(1)
      expect(result.stdout).toMatch(/^::error title=Input vpc-id::vpc-id: is required/m)
      expect(result.stdout).toMatch(/^::error title=Input aws-region::/m)
      expect(result.stdout).not.toMatch(/ReferenceError|Cannot find module/)
    }
  )

  it.each(runtimes)('under %s, runs the post step when main left its mark', async (_n, node) => {
    const { stdout } = await run(node, ['dist/index.js'], {
      env: { ...cleanEnv(), STATE_isPost: 'true' }
    })
    expect(stdout).toMatch(/nothing to close/)
  })
})

// GitHub failures met by the whole action, not the config module alone: the bundle applies a
// converged deployment (so it reaches the publish step without SSH) and commits the rewritten
// config file to a local GitHub API backed by a real bare git repository. Each fault must end
// the run with an error that says what to change, and leave the repository's refs exactly as
// they were (read with git itself), the token nowhere in the log, and SSH closed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { GITHUB_ACTIONS_BOT } from '../../src/config-file/github.js'
import { DEFAULT_CONFIG_PATH } from '../../src/inputs.js'
import { GitHubServer } from '../support/github-server.js'
import { motoUnavailable } from '../support/moto.js'
import { recordCase } from '../support/reliability-record.js'
import { ReliabilityStack } from '../support/reliability-stack.js'
import type { ActionRun } from '../support/run-action.js'
import { testHostPrerequisites } from '../support/test-host.js'

const reason = motoUnavailable() ?? testHostPrerequisites()
const suite = reason ? describe.skip : describe
if (reason) console.warn(`Skipping the reliability GitHub fault tests: ${reason}`)

const PASSWORD = 'github-suite-session-password-5150'
const DEPLOYMENT = 'gh-faults'
const FIXTURE = readFileSync(
  new URL('../fixtures/06-redis-configuration.config', import.meta.url),
  'utf8'
)

interface GitHubCase {
  name: string
  /** Sets the fault up on a fresh server. */
  arrange?: (server: GitHubServer) => void
  /** Inputs on top of the config inputs. */
  inputs?: (server: GitHubServer) => Record<string, string>
  /** The error the run must fail with; undefined when it must succeed. */
  error?: RegExp
  /** Another writer commits during the run: its commits are expected, the action's are not. */
  othersWrite?: boolean
  /**
   * Pull-request mode commits to its own branch before it asks for the pull request; when that
   * is refused the branch stays (the base is untouched, and the next run starts it over from
   * the base). Only that ref may change.
   */
  headBranchMayStay?: string
}

const CASES: GitHubCase[] = [
  {
    name: '401 bad token',
    inputs: () => ({ 'github-token': 'ghp_wrongTokenThatMustNotLeak000000000000' }),
    error: /GitHub rejected the token \(401: Bad credentials\).*github-token is wrong/
  },
  {
    name: '403 token may read but not write',
    arrange: s => s.inject({ operation: 'repos/create-or-update-file-contents', status: 403 }),
    error: /the token may not do this: 403 while committing .* It needs contents: write/
  },
  {
    name: '404 path',
    inputs: () => ({ 'config-path': 'openemr/.ebextensions/nope.config' }),
    error:
      /openemr\/\.ebextensions\/nope\.config does not exist on branch master .*Check config-path/
  },
  {
    name: '404 branch',
    inputs: () => ({ 'config-branch': 'rel-800' }),
    error: /branch rel-800 does not exist in openemr\/openemr .*Check config-branch/
  },
  {
    name: '409 race on every write (another writer keeps committing)',
    arrange: s => {
      let n = 0
      s.beforeWrite(async () => {
        n++
        await s.commit('master', { [DEFAULT_CONFIG_PATH]: `# edit ${n}\n${FIXTURE}` }, `Edit ${n}`)
      }, 10)
    },
    error: /changed between reading and writing 3 times in a row/,
    othersWrite: true
  },
  {
    name: '409 ruleset refuses direct commits',
    arrange: s => s.protect('master', 409),
    error:
      /GitHub refused the commit to branch master of openemr\/openemr \(409: .*pull-request: true/
  },
  {
    name: '422 protected branch',
    arrange: s => s.protect('master', 422),
    error:
      /GitHub refused the commit to branch master of openemr\/openemr \(422: Protected branch.*pull-request: true/
  },
  {
    name: '403 pull requests not permitted (pull-request: true)',
    arrange: s =>
      s.inject({
        operation: 'pulls/create',
        status: 403,
        message: 'GitHub Actions is not permitted to create or approve pull requests.'
      }),
    inputs: () => ({ 'pull-request': 'true' }),
    error: /does not let this workflow's token open pull requests/,
    headBranchMayStay: `refs/heads/openemr-redis-action/${DEPLOYMENT}`
  },
  {
    name: '409 race once (re-read and committed on top)',
    arrange: s =>
      s.beforeWrite(async () => {
        await s.commit('master', { 'README.md': '# changed meanwhile\n' }, 'Concurrent edit')
      }),
    othersWrite: true
  },
  { name: 'no fault (the control: a run that may write, writes)' }
]

suite(
  'reliability: GitHub faults through the action (bundle, moto, real host, local GitHub)',
  () => {
    let stack: ReliabilityStack

    beforeAll(async () => {
      stack = await ReliabilityStack.start({ octet: 43, prefix: 'rg', password: PASSWORD })
      stack.startCloud()
      // Converged once without a config repository: each case below reaches publish at once.
      const first = await stack.run(stack.inputs(DEPLOYMENT))
      if (first.code !== 0) throw new Error(`the first apply failed:\n${first.stdout.slice(-2000)}`)
    }, 300_000)

    afterAll(async () => {
      await stack?.stop()
    }, 120_000)

    const errorLine = (run: ActionRun) => /^::error[^:]*::(.*)$/m.exec(run.stdout)?.[1] ?? ''

    it.each(CASES.map(c => [c.name, c] as const))(
      '%s',
      async (_name, c) => {
        const t = performance.now()
        const server = await GitHubServer.start({
          files: { [DEFAULT_CONFIG_PATH]: FIXTURE, 'README.md': '# OpenEMR\n' }
        })
        try {
          const hitsBefore = stack.secretHits.length
          c.arrange?.(server)
          const git = (...args: string[]) => server.git.text(args)
          const refsBefore = await git('for-each-ref', '--format=%(refname) %(objectname)')
          const run = await stack.run(
            stack.inputs(DEPLOYMENT, {
              'config-repository': `${server.owner}/${server.repo}`,
              'github-token': server.token,
              ...c.inputs?.(server)
            }),
            { env: { GITHUB_API_URL: server.url } }
          )
          const refsAfter = await git('for-each-ref', '--format=%(refname) %(objectname)')
          const botCommits = (await git('log', '--all', '--format=%ae'))
            .split('\n')
            .filter(e => e === GITHUB_ACTIONS_BOT.email).length
          const sshOpen = await stack.sshRules()
          const secrets = stack.secretHits.slice(hitsBefore)
          const error = errorLine(run)
          const refused = c.error !== undefined
          // Nothing partial: a refused run leaves the refs alone (or only the other writer's
          // commits), and never a commit of its own.
          const otherRefs = (refs: string) =>
            refs
              .split('\n')
              .filter(r => !c.headBranchMayStay || !r.startsWith(`${c.headBranchMayStay} `))
              .join('\n')
          const untouched = c.othersWrite
            ? botCommits === 0
            : otherRefs(refsAfter) === otherRefs(refsBefore) && server.pulls.length === 0
          const survived = refused
            ? run.code === 1 && c.error!.test(error) && untouched
            : run.code === 0 &&
              botCommits === 1 &&
              run.outputs['config-commit-sha'] === (await git('rev-parse', 'master'))
          recordCase({
            category: 'github',
            name: c.name,
            faults: refused || c.othersWrite ? 1 : 0,
            runs: 1,
            survived: survived && sshOpen.length === 0 && secrets.length === 0,
            leaked: refused && !untouched ? [`repository refs changed: ${refsAfter}`] : [],
            sshOpen,
            secrets,
            seconds: Number(((performance.now() - t) / 1000).toFixed(1)),
            detail: {
              error,
              violations: server.violations,
              refsChanged: refsAfter.split('\n').filter(r => !refsBefore.split('\n').includes(r))
            }
          })
          if (refused) {
            expect(run.code).toBe(1)
            expect(error).toMatch(c.error!)
            if (c.othersWrite) expect(botCommits).toBe(0)
            else expect(otherRefs(refsAfter)).toBe(otherRefs(refsBefore))
            expect(server.pulls).toEqual([])
          } else {
            expect(error).toBe('')
            expect(run.code).toBe(0)
            expect(botCommits).toBe(1)
            expect(run.outputs['config-commit-sha']).toBe(await git('rev-parse', 'master'))
            expect(await git('show', `master:${DEFAULT_CONFIG_PATH}`)).toContain(
              `${run.outputs['private-ip']}:6379`
            )
          }
          expect(server.violations).toEqual([])
          expect(sshOpen).toEqual([])
          expect(secrets).toEqual([])
        } finally {
          await server.close()
        }
      },
      120_000
    )

    it('showed no secret (token, password, key) in any run', () => {
      expect(stack.runs).toBeGreaterThan(CASES.length)
      expect(stack.secretHits).toEqual([])
    })
  }
)

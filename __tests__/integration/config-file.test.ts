// The config step against a local GitHub REST server backed by a real bare git repository:
// what lands in git is read back with git itself.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { inspect } from 'node:util'
import { DEFAULT_CONFIG_PATH, type ConfigSettings } from '../../src/inputs.js'
import {
  GITHUB_ACTIONS_BOT,
  publishConfig,
  pullRequestBranch,
  type PublishOptions
} from '../../src/config-file/github.js'
import { GitHubConfigError } from '../../src/config-file/github-errors.js'
import { ConfigRewriteError } from '../../src/config-file/rewrite.js'
import { GitHubServer, SEED_AUTHOR } from '../support/github-server.js'

const FIXTURE = readFileSync(
  new URL('../fixtures/06-redis-configuration.config', import.meta.url),
  'utf8'
)
const PATH = DEFAULT_CONFIG_PATH
const AT = { ip: '10.0.1.23', port: 6379 }
const rewritten = (text: string, ip = AT.ip, port = AT.port) =>
  text.replace('<<REDIS_IP>>:6379', `${ip}:${port}`)

function missingGit(): string | undefined {
  try {
    const version = execFileSync('git', ['--version'], { encoding: 'utf8' })
    const [major, minor] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number)
    // --initial-branch arrived in git 2.28.
    if (major < 2 || (major === 2 && minor < 28)) return `git ${major}.${minor} is older than 2.28`
    return undefined
  } catch {
    return 'git is not installed'
  }
}

const skip = missingGit()
if (skip) console.warn(`skipping the config-file integration tests: ${skip}`)
const suite = skip ? describe.skip : describe

suite('publishConfig against a local GitHub backed by a bare git repository', () => {
  let server: GitHubServer
  const savedApiUrl = process.env.GITHUB_API_URL
  const logs: string[] = []

  async function start(options: Parameters<typeof GitHubServer.start>[0] = {}) {
    server = await GitHubServer.start({
      files: { [PATH]: FIXTURE, 'README.md': '# OpenEMR\n' },
      ...options
    })
    process.env.GITHUB_API_URL = server.url
  }

  const config = (overrides: Partial<ConfigSettings> = {}): ConfigSettings => ({
    owner: 'openemr',
    repo: 'openemr',
    path: PATH,
    branch: '',
    token: server.token,
    commitMessage: '',
    pullRequest: false,
    ...overrides
  })
  const publish = (
    overrides: Partial<ConfigSettings> = {},
    endpoint = AT,
    options: Partial<PublishOptions> = {}
  ) =>
    publishConfig(config(overrides), endpoint, {
      dryRun: false,
      log: m => logs.push(m),
      ...options
    })

  const git = (...args: string[]) => server.git.text(args)
  const log = (ref: string) => git('log', '--format=%H', ref).then(out => out.split('\n'))
  const show = (ref: string, path = PATH) => server.git.run(['show', `${ref}:${path}`])
  const failure = async (promise: Promise<unknown>) => {
    try {
      await promise
    } catch (error) {
      return error as Error
    }
    throw new Error('expected a failure')
  }

  beforeEach(async () => {
    logs.length = 0
    await start()
  })

  afterEach(async () => {
    // Close first: a failed expectation must not leave the server holding jest open.
    await server.close()
    if (savedApiUrl === undefined) delete process.env.GITHUB_API_URL
    else process.env.GITHUB_API_URL = savedApiUrl
    expect(server.violations).toEqual([])
    for (const line of logs) expect(line).not.toContain(server.token)
  })

  it('commits the rewrite once, on the default branch, as the Actions bot', async () => {
    const [seed] = await log('master')
    const result = await publish()

    const history = await log('master')
    expect(history).toEqual([result.commitSha, seed])
    expect(await git('rev-parse', `${result.commitSha}^`)).toBe(seed)
    expect((await show('master')).toString('utf8')).toBe(rewritten(FIXTURE))
    expect(await git('diff-tree', '--no-commit-id', '--name-only', '-r', 'master')).toBe(PATH)
    expect(await git('show', '-s', '--format=%an <%ae>|%cn <%ce>|%s', 'master')).toBe(
      `${GITHUB_ACTIONS_BOT.name} <${GITHUB_ACTIONS_BOT.email}>|${GITHUB_ACTIONS_BOT.name} <${GITHUB_ACTIONS_BOT.email}>|Point OpenEMR PHP sessions at Redis 10.0.1.23:6379`
    )
    expect(result).toMatchObject({
      changed: true,
      branch: 'master',
      baseBranch: 'master',
      pullRequestUrl: undefined,
      changes: [{ line: 17 }]
    })
    expect(result.diff).toContain(`+++ b/${PATH}`)
    expect(result.diff).toContain(String.raw`+        sed -i 's/session.save_path\ =\ \"\/tmp\"/`)
    expect(result.warnings).toHaveLength(2)
  })

  it('keeps CRLF line endings and a missing final newline through the API round trip', async () => {
    const crlf = FIXTURE.replace(/\n/g, '\r\n').replace(/\r\n$/, '')
    await server.commit('master', { [PATH]: crlf }, 'CRLF copy')
    await publish({ commitMessage: 'Redis for sessions' })
    expect(await show('master')).toEqual(Buffer.from(rewritten(crlf)))
    expect(await git('show', '-s', '--format=%B', 'master')).toBe('Redis for sessions')
  })

  it('writes nothing when the file already points at the endpoint', async () => {
    await publish()
    const before = await log('master')
    const writesBefore = server.writes().length
    const again = await publish()
    expect(again).toMatchObject({ changed: false, commitSha: undefined, diff: '', changes: [] })
    expect(await log('master')).toEqual(before)
    expect(server.writes()).toHaveLength(writesBefore)
  })

  it("moves an earlier run's address to a new address and port", async () => {
    const first = await publish()
    const second = await publish({}, { ip: '10.0.2.200', port: 6380 })
    expect(await git('rev-parse', `${second.commitSha}^`)).toBe(first.commitSha)
    expect((await show('master')).toString('utf8')).toBe(rewritten(FIXTURE, '10.0.2.200', 6380))
  })

  it('reads, rewrites and diffs in a dry run but writes nothing', async () => {
    const before = await git('for-each-ref')
    const result = await publish({}, AT, { dryRun: true })
    expect(result.changed).toBe(true)
    expect(result.commitSha).toBeUndefined()
    expect(result.diff).toMatch(/^--- a\/openemr\/.*\n\+\+\+ b\/openemr\/.*\n@@ -14,4 \+14,4 @@\n/)
    expect(server.writes()).toEqual([])
    expect(server.requests.map(r => r.method)).toEqual(['GET', 'GET'])
    expect(await git('for-each-ref')).toBe(before)
  })

  it('re-reads and re-applies the rewrite when the file changes between read and write', async () => {
    const [seed] = await log('master')
    let concurrent = ''
    server.beforeWrite(async () => {
      concurrent = await server.commit(
        'master',
        { [PATH]: `# edited meanwhile\n${FIXTURE}` },
        'Concurrent edit'
      )
    })
    const result = await publish()

    expect(await log('master')).toEqual([result.commitSha, concurrent, seed])
    expect(await git('rev-parse', `${result.commitSha}^`)).toBe(concurrent)
    expect((await show('master')).toString('utf8')).toBe(
      `# edited meanwhile\n${rewritten(FIXTURE)}`
    )
    expect(server.requests.filter(r => r.method === 'PUT').map(r => r.status)).toEqual([409, 200])
    expect(logs.some(l => l.includes('reading it again'))).toBe(true)
  })

  it('commits on top of a concurrent change to another file without a conflict', async () => {
    let concurrent = ''
    server.beforeWrite(async () => {
      concurrent = await server.commit('master', { 'README.md': '# changed\n' }, 'Other file')
    })
    const result = await publish()
    expect(await git('rev-parse', `${result.commitSha}^`)).toBe(concurrent)
    expect((await show('master', 'README.md')).toString('utf8')).toBe('# changed\n')
    expect((await show('master')).toString('utf8')).toBe(rewritten(FIXTURE))
  })

  it('stops without a commit when a concurrent run already wrote the same endpoint', async () => {
    server.beforeWrite(async () => {
      await server.commit('master', { [PATH]: rewritten(FIXTURE) }, 'Other run')
    })
    const result = await publish()
    expect(result).toMatchObject({ changed: false, commitSha: undefined })
    expect(await git('show', '-s', '--format=%s', 'master')).toBe('Other run')
  })

  it('gives up after a bounded number of conflicts and commits nothing of its own', async () => {
    let n = 0
    server.beforeWrite(async () => {
      n++
      await server.commit('master', { [PATH]: `# edit ${n}\n${FIXTURE}` }, `Edit ${n}`)
    }, 10)
    const error = await failure(publish())
    expect(error.message).toMatch(/changed between reading and writing 3 times in a row/)
    expect(server.requests.filter(r => r.method === 'PUT')).toHaveLength(3)
    expect(await git('log', '--format=%ae', 'master')).not.toContain(GITHUB_ACTIONS_BOT.email)
  })

  it.each([422, 409] as const)(
    'reports a protected branch (%i) clearly and writes nothing',
    async status => {
      server.protect('master', status)
      const before = await git('for-each-ref')
      const error = await failure(publish())
      expect(error).toBeInstanceOf(GitHubConfigError)
      expect(error.message).toMatch(
        new RegExp(`refused the commit to branch master of openemr/openemr \\(${status}: `)
      )
      expect(error.message).toContain('pull-request: true')
      expect(server.requests.filter(r => r.method === 'PUT')).toHaveLength(1)
      expect(await git('for-each-ref')).toBe(before)
    }
  )

  it('reports a bad token (401) without echoing it and writes nothing', async () => {
    const before = await git('for-each-ref')
    const token = 'ghp_wrongTokenThatMustNotLeak000000000000'
    const error = await failure(publish({ token }))
    expect(error.message).toMatch(/^GitHub rejected the token \(401: Bad credentials\)/)
    expect(error.message).toContain('github-token')
    expect(error.message).not.toContain(token)
    // The cause (Octokit's RequestError) carries the request, with its authorization redacted.
    expect(inspect(error, { depth: 10 })).toContain('[REDACTED]')
    expect(inspect(error, { depth: 10 })).not.toContain(token)
    expect(server.writes()).toEqual([])
    expect(await git('for-each-ref')).toBe(before)
  })

  it('names contents: write when the token may read but not write (403)', async () => {
    server.inject({ operation: 'repos/create-or-update-file-contents', status: 403 })
    const error = await failure(publish())
    expect(error.message).toMatch(/It needs contents: write/)
    expect(await log('master')).toHaveLength(1)
  })

  it('names the missing path and the missing branch (404)', async () => {
    const noPath = await failure(publish({ path: 'openemr/.ebextensions/nope.config' }))
    expect(noPath.message).toBe(
      'openemr/.ebextensions/nope.config does not exist on branch master of openemr/openemr (404). Check config-path; the OpenEMR repository keeps it at openemr/.ebextensions/06-redis-configuration.config.'
    )
    const noBranch = await failure(publish({ branch: 'rel-800' }))
    expect(noBranch.message).toMatch(/^branch rel-800 does not exist in openemr\/openemr/)
    const noRepo = await failure(publish({ repo: 'openemr-fork' }))
    expect(noRepo.message).toMatch(/^repository openemr\/openemr-fork was not found/)
    expect(server.writes()).toEqual([])
  })

  it('says so when nothing answers at GITHUB_API_URL', async () => {
    const closed = createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as { port: number }
    await new Promise(resolve => closed.close(resolve))
    process.env.GITHUB_API_URL = `http://127.0.0.1:${port}`
    const error = await failure(publish({ branch: 'master' }))
    expect(error.message).toMatch(
      new RegExp(`^could not reach the GitHub API at http://127\\.0\\.0\\.1:${port} while reading`)
    )
  })

  it('refuses a file with nothing to rewrite and writes nothing', async () => {
    await server.commit('master', { [PATH]: 'option_settings: []\n' }, 'No placeholder')
    await expect(publish()).rejects.toBeInstanceOf(ConfigRewriteError)
    expect(server.writes()).toEqual([])
  })

  it('works under a GitHub Enterprise Server style /api/v3 prefix', async () => {
    await server.close()
    await start({ prefix: '/api/v3' })
    expect(server.url).toMatch(/\/api\/v3$/)
    const result = await publish()
    expect(await log('master')).toHaveLength(2)
    expect(result.commitSha).toBe(await git('rev-parse', 'master'))
    expect(server.requests.every(r => r.path.startsWith('/api/v3/'))).toBe(true)
  })

  describe('pull-request mode', () => {
    const head = pullRequestBranch('clinic-prod')
    const viaPr = (endpoint = AT, overrides: Partial<ConfigSettings> = {}) =>
      publish({ pullRequest: true, ...overrides }, endpoint, { deployment: 'clinic-prod' })

    it('opens a pull request from a branch made from the base, leaving the base alone', async () => {
      const [master] = await log('master')
      const result = await viaPr()

      expect(head).toBe('openemr-redis-action/clinic-prod')
      expect(await log('master')).toEqual([master])
      expect(await log(head)).toEqual([result.commitSha, master])
      expect((await show(head)).toString('utf8')).toBe(rewritten(FIXTURE))
      expect(server.pulls).toEqual([
        expect.objectContaining({ number: 1, head, base: 'master', state: 'open' })
      ])
      expect(result).toMatchObject({
        changed: true,
        branch: head,
        baseBranch: 'master',
        pullRequestUrl: `${server.url}/openemr/openemr/pull/1`
      })
    })

    it('updates the same pull request on the next run', async () => {
      const [master] = await log('master')
      const first = await viaPr()
      const second = await viaPr({ ip: '10.0.3.3', port: 6379 })

      expect(second.pullRequestUrl).toBe(first.pullRequestUrl)
      expect(server.pulls).toHaveLength(1)
      expect(await log(head)).toEqual([second.commitSha, first.commitSha, master])
      expect((await show(head)).toString('utf8')).toBe(rewritten(FIXTURE, '10.0.3.3'))
      expect(second.diff).toContain(
        '+' + FIXTURE.split('\n')[16].replace('<<REDIS_IP>>', '10.0.3.3')
      )

      const third = await viaPr({ ip: '10.0.3.3', port: 6379 })
      expect(third.commitSha).toBe(second.commitSha)
      expect(await log(head)).toHaveLength(3)
      expect(server.pulls).toHaveLength(1)
    })

    it('starts the branch over at the base when its pull request was closed', async () => {
      await viaPr()
      server.pulls[0].state = 'closed'
      const moved = await server.commit('master', { 'README.md': '# moved on\n' }, 'Base moves')
      const result = await viaPr({ ip: '10.0.4.4', port: 6379 })

      expect(await log(head)).toEqual([result.commitSha, ...(await log('master'))])
      expect(await git('rev-parse', `${result.commitSha}^`)).toBe(moved)
      expect(result.pullRequestUrl).toBe(`${server.url}/openemr/openemr/pull/2`)
    })

    it('writes nothing in a dry run', async () => {
      const result = await publish({ pullRequest: true }, AT, { dryRun: true })
      expect(result).toMatchObject({
        changed: true,
        commitSha: undefined,
        branch: pullRequestBranch()
      })
      expect(server.writes()).toEqual([])
      expect(server.pulls).toEqual([])
    })

    it('explains the repository setting when Actions may not open pull requests (403)', async () => {
      server.inject({
        operation: 'pulls/create',
        status: 403,
        message: 'GitHub Actions is not permitted to create or approve pull requests.'
      })
      const error = await failure(viaPr())
      expect(error.message).toContain('Allow GitHub Actions to create and approve pull requests')
    })

    it('names pull-requests: write when the token may not open one', async () => {
      server.inject({ operation: 'pulls/create', status: 403 })
      const error = await failure(viaPr())
      expect(error.message).toMatch(/It needs pull-requests: write and contents: write/)
    })

    it('targets config-branch as the base', async () => {
      await server.git.updateRef('refs/heads/rel-800', (await log('master'))[0], undefined)
      const result = await viaPr(AT, { branch: 'rel-800' })
      expect(result.baseBranch).toBe('rel-800')
      expect(server.pulls[0]).toMatchObject({ base: 'rel-800', head })
      expect(await git('show', '-s', '--format=%an', 'rel-800')).toBe(SEED_AUTHOR.name)
    })
  })
})

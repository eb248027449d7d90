import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { readFileSync } from 'node:fs'
import type { ConfigSettings } from '../../src/inputs.js'

type Fn = jest.Mock<(params: Record<string, unknown>) => Promise<unknown>>
const fn = (): Fn => jest.fn<(params: Record<string, unknown>) => Promise<unknown>>()
const octokit = {
  rest: {
    repos: { get: fn(), getContent: fn(), createOrUpdateFileContents: fn() },
    git: { getRef: fn(), createRef: fn(), updateRef: fn() },
    pulls: { list: fn(), create: fn() }
  }
}
const getOctokit = jest.fn((_token: string, _options: { baseUrl: string }) => octokit)
jest.unstable_mockModule('@actions/github', () => ({ getOctokit }))

const { publishConfig, pullRequestBranch, GITHUB_ACTIONS_BOT, MAX_ATTEMPTS } =
  await import('../../src/config-file/github.js')
const { GitHubConfigError } = await import('../../src/config-file/github-errors.js')
const { ConfigRewriteError } = await import('../../src/config-file/rewrite.js')

const FIXTURE = readFileSync(
  new URL('../fixtures/06-redis-configuration.config', import.meta.url),
  'utf8'
)
const AT = { ip: '10.0.1.23', port: 6379 }
const REWRITTEN = FIXTURE.replace('<<REDIS_IP>>', '10.0.1.23')
const SHA = (c: string) => c.repeat(40)
const { repos, git, pulls } = octokit.rest

const config = (overrides: Partial<ConfigSettings> = {}): ConfigSettings => ({
  owner: 'openemr',
  repo: 'openemr',
  path: 'openemr/.ebextensions/06-redis-configuration.config',
  branch: 'master',
  token: 'ghs_unitTestToken',
  commitMessage: '',
  pullRequest: false,
  ...overrides
})
const file = (text: string, sha: string) => ({
  data: { type: 'file', encoding: 'base64', content: Buffer.from(text).toString('base64'), sha }
})
const commit = (sha: string) => ({ data: { commit: { sha } } })
const httpError = (status: number, message: string) =>
  Object.assign(new Error(message), {
    status,
    response: { status, data: { message }, headers: {} }
  })
const decoded = (call: Record<string, unknown>) =>
  Buffer.from(call.content as string, 'base64').toString('utf8')
const writes = () => repos.createOrUpdateFileContents.mock.calls.map(c => c[0])
const nothingWritten = () => {
  expect(repos.createOrUpdateFileContents).not.toHaveBeenCalled()
  expect(git.createRef).not.toHaveBeenCalled()
  expect(git.updateRef).not.toHaveBeenCalled()
  expect(pulls.create).not.toHaveBeenCalled()
}

const savedApiUrl = process.env.GITHUB_API_URL
beforeEach(() => {
  jest.resetAllMocks()
  getOctokit.mockImplementation(() => octokit)
  delete process.env.GITHUB_API_URL
})
afterEach(() => {
  if (savedApiUrl === undefined) delete process.env.GITHUB_API_URL
  else process.env.GITHUB_API_URL = savedApiUrl
})

describe('publishConfig: the client', () => {
  it('talks to GITHUB_API_URL (GitHub Enterprise Server) with the token', async () => {
    process.env.GITHUB_API_URL = 'https://ghes.example.com/api/v3/'
    repos.getContent.mockResolvedValue(file(REWRITTEN, SHA('a')))
    await publishConfig(config(), AT, { dryRun: false })
    expect(getOctokit).toHaveBeenCalledWith('ghs_unitTestToken', {
      baseUrl: 'https://ghes.example.com/api/v3'
    })
  })

  it('talks to api.github.com when GITHUB_API_URL is not set', async () => {
    repos.getContent.mockResolvedValue(file(REWRITTEN, SHA('a')))
    await publishConfig(config(), AT, { dryRun: false })
    expect(getOctokit).toHaveBeenCalledWith('ghs_unitTestToken', {
      baseUrl: 'https://api.github.com'
    })
  })
})

describe('publishConfig: committing to the branch', () => {
  it('reads at config-branch and writes the rewrite with the blob sha as the Actions bot', async () => {
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    const result = await publishConfig(config(), AT, { dryRun: false })

    expect(repos.get).not.toHaveBeenCalled()
    expect(repos.getContent).toHaveBeenCalledWith({
      owner: 'openemr',
      repo: 'openemr',
      path: config().path,
      ref: 'master'
    })
    expect(writes()).toEqual([
      expect.objectContaining({
        owner: 'openemr',
        repo: 'openemr',
        path: config().path,
        branch: 'master',
        sha: SHA('a'),
        message: 'Point OpenEMR PHP sessions at Redis 10.0.1.23:6379',
        author: GITHUB_ACTIONS_BOT,
        committer: GITHUB_ACTIONS_BOT
      })
    ])
    expect(decoded(writes()[0])).toBe(REWRITTEN)
    expect(result).toMatchObject({
      changed: true,
      commitSha: SHA('c'),
      pullRequestUrl: undefined,
      branch: 'master',
      baseBranch: 'master',
      changes: [{ line: 17 }]
    })
    expect(result.diff).toContain('@@ -14,4 +14,4 @@')
    expect(result.warnings).toHaveLength(2)
  })

  it("uses the repository's default branch when config-branch is empty", async () => {
    repos.get.mockResolvedValueOnce({ data: { default_branch: 'trunk' } })
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    const result = await publishConfig(config({ branch: '' }), AT, { dryRun: false })
    expect(repos.getContent.mock.calls[0][0]).toMatchObject({ ref: 'trunk' })
    expect(writes()[0]).toMatchObject({ branch: 'trunk' })
    expect(result.branch).toBe('trunk')
  })

  it('uses commit-message and a given identity', async () => {
    const identity = { name: 'Deploy Bot', email: 'deploy@example.com' }
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    await publishConfig(config({ commitMessage: 'chore: redis' }), AT, { dryRun: false, identity })
    expect(writes()[0]).toMatchObject({
      message: 'chore: redis',
      author: identity,
      committer: identity
    })
  })

  it('commits nothing when the file already points at the endpoint', async () => {
    repos.getContent.mockResolvedValueOnce(file(REWRITTEN, SHA('a')))
    const result = await publishConfig(config(), AT, { dryRun: false })
    expect(result).toMatchObject({ changed: false, commitSha: undefined, diff: '', changes: [] })
    nothingWritten()
  })

  it('only reads in a dry run', async () => {
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    const result = await publishConfig(config(), AT, { dryRun: true })
    expect(result).toMatchObject({ changed: true, commitSha: undefined })
    expect(result.diff).toContain(`+${REWRITTEN.split('\n')[16]}`)
    nothingWritten()
  })

  it('fails with ConfigRewriteError, writing nothing, when the file has no placeholder', async () => {
    repos.getContent.mockResolvedValueOnce(file('option_settings: []\n', SHA('a')))
    await expect(publishConfig(config(), AT, { dryRun: false })).rejects.toBeInstanceOf(
      ConfigRewriteError
    )
    nothingWritten()
  })

  it('re-reads and re-applies the rewrite after a 409 caused by a concurrent change', async () => {
    const edited = `# edited\n${FIXTURE}`
    repos.getContent
      .mockResolvedValueOnce(file(FIXTURE, SHA('a')))
      .mockResolvedValueOnce(file(edited, SHA('b')))
    repos.createOrUpdateFileContents
      .mockRejectedValueOnce(httpError(409, `is at ${SHA('b')} but expected ${SHA('a')}`))
      .mockResolvedValueOnce(commit(SHA('c')))
    const log: string[] = []
    const result = await publishConfig(config(), AT, { dryRun: false, log: m => log.push(m) })

    expect(writes().map(w => w.sha)).toEqual([SHA('a'), SHA('b')])
    expect(decoded(writes()[1])).toBe(`# edited\n${REWRITTEN}`)
    expect(result.commitSha).toBe(SHA('c'))
    expect(result.changes).toEqual([expect.objectContaining({ line: 18 })])
    expect(log[0]).toMatch(/changed on master while it was rewritten/)
  })

  it('treats a 422 on an unchanged file as a refusal, not a race', async () => {
    repos.getContent.mockResolvedValue(file(FIXTURE, SHA('a')))
    repos.createOrUpdateFileContents.mockRejectedValue(
      httpError(422, 'Protected branch update failed for refs/heads/master.')
    )
    const error = await publishConfig(config(), AT, { dryRun: false }).catch(e => e)
    expect(error).toBeInstanceOf(GitHubConfigError)
    expect(error.message).toMatch(
      /^GitHub refused the commit to branch master .*pull-request: true/
    )
    expect(writes()).toHaveLength(1)
  })

  it(`gives up after ${MAX_ATTEMPTS} conflicting writes`, async () => {
    let n = 0
    repos.getContent.mockImplementation(async () => file(`# ${n++}\n${FIXTURE}`, SHA(String(n))))
    repos.createOrUpdateFileContents.mockRejectedValue(httpError(409, 'is at x but expected y'))
    await expect(publishConfig(config(), AT, { dryRun: false })).rejects.toThrow(
      `changed between reading and writing ${MAX_ATTEMPTS} times in a row; this run committed nothing`
    )
    expect(writes()).toHaveLength(MAX_ATTEMPTS)
  })

  it.each([
    [{ data: [{ type: 'file' }] }, /is a directory/],
    [{ data: { type: 'submodule', sha: SHA('a') } }, /is a submodule, not a file/],
    [{ data: { type: 'file', encoding: 'none', content: '', sha: SHA('a') } }, /over 1 MB/],
    [
      { data: { type: 'file', encoding: 'base64', content: 'gP8=', sha: SHA('a') } },
      /is not UTF-8 text/
    ]
  ])('refuses content it cannot rewrite safely (%#)', async (response, message) => {
    repos.getContent.mockResolvedValueOnce(response)
    await expect(publishConfig(config(), AT, { dryRun: false })).rejects.toThrow(message)
    nothingWritten()
  })

  it('turns a 401 into a message about github-token', async () => {
    repos.getContent.mockRejectedValueOnce(httpError(401, 'Bad credentials'))
    await expect(publishConfig(config(), AT, { dryRun: false })).rejects.toThrow(
      /^GitHub rejected the token \(401: Bad credentials\) while reading openemr\/\.ebextensions\/06-redis-configuration\.config on branch master of openemr\/openemr/
    )
  })
})

describe('publishConfig: pull-request mode', () => {
  const HEAD = 'openemr-redis-action/redis-endpoint'
  const pr = { number: 7, html_url: 'https://github.com/openemr/openemr/pull/7' }
  const refs = (shas: Record<string, string | undefined>) =>
    git.getRef.mockImplementation(async ({ ref }) => {
      const sha = shas[String(ref).replace(/^heads\//, '')]
      if (!sha) throw httpError(404, 'Not Found')
      return { data: { object: { sha } } }
    })
  const prConfig = config({ pullRequest: true })

  it('creates the branch from the base commit, commits there and opens a pull request', async () => {
    refs({ master: SHA('1') })
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    pulls.create.mockResolvedValueOnce({ data: pr })
    const result = await publishConfig(prConfig, AT, { dryRun: false })

    expect(repos.getContent.mock.calls[0][0]).toMatchObject({ ref: SHA('1') })
    expect(git.createRef).toHaveBeenCalledWith({
      owner: 'openemr',
      repo: 'openemr',
      ref: `refs/heads/${HEAD}`,
      sha: SHA('1')
    })
    expect(writes()).toEqual([expect.objectContaining({ branch: HEAD, sha: SHA('a') })])
    expect(pulls.create).toHaveBeenCalledWith(
      expect.objectContaining({ head: HEAD, base: 'master', title: expect.any(String) })
    )
    expect(pulls.create.mock.calls[0][0].body).not.toContain('10.0.1.23')
    expect(result).toMatchObject({
      changed: true,
      commitSha: SHA('c'),
      pullRequestUrl: pr.html_url,
      branch: HEAD,
      baseBranch: 'master'
    })
  })

  it("builds on the open pull request's branch instead of resetting it", async () => {
    refs({ master: SHA('1'), [HEAD]: SHA('2') })
    const earlier = FIXTURE.replace('<<REDIS_IP>>', '10.0.9.9')
    repos.getContent
      .mockResolvedValueOnce(file(FIXTURE, SHA('a')))
      .mockResolvedValueOnce(file(earlier, SHA('e')))
    pulls.list.mockResolvedValueOnce({ data: [pr] })
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    const result = await publishConfig(prConfig, AT, { dryRun: false })

    expect(pulls.list).toHaveBeenCalledWith(
      expect.objectContaining({ head: `openemr:${HEAD}`, base: 'master', state: 'open' })
    )
    expect(repos.getContent.mock.calls[1][0]).toMatchObject({ ref: SHA('2') })
    expect(writes()).toEqual([expect.objectContaining({ branch: HEAD, sha: SHA('e') })])
    expect(decoded(writes()[0])).toBe(REWRITTEN)
    expect(git.createRef).not.toHaveBeenCalled()
    expect(git.updateRef).not.toHaveBeenCalled()
    expect(pulls.create).not.toHaveBeenCalled()
    expect(result.pullRequestUrl).toBe(pr.html_url)
  })

  it('makes no commit when the open pull request already proposes the endpoint', async () => {
    refs({ master: SHA('1'), [HEAD]: SHA('2') })
    repos.getContent
      .mockResolvedValueOnce(file(FIXTURE, SHA('a')))
      .mockResolvedValueOnce(file(REWRITTEN, SHA('e')))
    pulls.list.mockResolvedValueOnce({ data: [pr] })
    const result = await publishConfig(prConfig, AT, { dryRun: false })
    expect(result).toMatchObject({
      changed: true,
      commitSha: SHA('2'),
      pullRequestUrl: pr.html_url
    })
    nothingWritten()
  })

  it('resets a stale branch without an open pull request to the base', async () => {
    refs({ master: SHA('1'), [HEAD]: SHA('9') })
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    pulls.list.mockResolvedValueOnce({ data: [] })
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    pulls.create.mockResolvedValueOnce({ data: pr })
    await publishConfig(prConfig, AT, { dryRun: false })
    expect(git.updateRef).toHaveBeenCalledWith({
      owner: 'openemr',
      repo: 'openemr',
      ref: `heads/${HEAD}`,
      sha: SHA('1'),
      force: true
    })
    expect(writes()[0]).toMatchObject({ branch: HEAD, sha: SHA('a') })
  })

  it('reuses a pull request that a concurrent run opened first', async () => {
    refs({ master: SHA('1') })
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    repos.createOrUpdateFileContents.mockResolvedValueOnce(commit(SHA('c')))
    pulls.create.mockRejectedValueOnce(httpError(422, 'A pull request already exists'))
    pulls.list.mockResolvedValueOnce({ data: [pr] })
    const result = await publishConfig(prConfig, AT, { dryRun: false })
    expect(result.pullRequestUrl).toBe(pr.html_url)
  })

  it('only reads in a dry run', async () => {
    refs({ master: SHA('1') })
    repos.getContent.mockResolvedValueOnce(file(FIXTURE, SHA('a')))
    const result = await publishConfig(prConfig, AT, { dryRun: true, deployment: 'clinic.prod' })
    expect(result).toMatchObject({ changed: true, branch: 'openemr-redis-action/clinic-prod' })
    nothingWritten()
    expect(pulls.list).not.toHaveBeenCalled()
  })

  it('names a missing base branch', async () => {
    refs({})
    await expect(publishConfig(prConfig, AT, { dryRun: false })).rejects.toThrow(
      /^branch master does not exist in openemr\/openemr/
    )
  })

  it('refuses a base branch that is the pull-request branch itself', async () => {
    await expect(
      publishConfig(config({ pullRequest: true, branch: HEAD }), AT, { dryRun: false })
    ).rejects.toThrow(/config-branch is openemr-redis-action\/redis-endpoint/)
  })
})

describe('pullRequestBranch', () => {
  it.each([
    [undefined, 'openemr-redis-action/redis-endpoint'],
    ['openemr-redis', 'openemr-redis-action/openemr-redis'],
    ['clinic..prod.lock', 'openemr-redis-action/clinic-prod-lock'],
    ['...', 'openemr-redis-action/redis-endpoint']
  ])('%s -> %s', (deployment, branch) => {
    expect(pullRequestBranch(deployment)).toBe(branch)
  })
})

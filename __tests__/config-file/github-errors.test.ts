import { describe, expect, it } from '@jest/globals'
import {
  GitHubConfigError,
  translateGitHubError,
  type ErrorContext,
  type GitHubStep
} from '../../src/config-file/github-errors.js'

const ctx = (step: GitHubStep): ErrorContext => ({
  step,
  owner: 'openemr',
  repo: 'openemr',
  path: 'openemr/.ebextensions/06-redis-configuration.config',
  branch: 'master',
  apiUrl: 'https://api.github.com'
})
const http = (status: number, message: string, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`${message} - https://docs.github.com/rest`), {
    status,
    response: {
      status,
      data: { message, documentation_url: 'https://docs.github.com/rest' },
      headers
    }
  })
const translate = (error: unknown, step: GitHubStep) => translateGitHubError(error, ctx(step))

describe('translateGitHubError', () => {
  it('keeps the status, the step and the original error as its cause', () => {
    const original = http(403, 'Resource not accessible by integration')
    const error = translate(original, 'write-file') as GitHubConfigError
    expect(error).toBeInstanceOf(GitHubConfigError)
    expect(error).toMatchObject({ status: 403, step: 'write-file', cause: original })
  })

  it.each<[GitHubStep, string]>([
    ['write-file', 'contents: write'],
    ['create-branch', 'contents: write'],
    ['update-branch', 'contents: write'],
    ['read-file', 'contents: read'],
    ['create-pull-request', 'pull-requests: write and contents: write'],
    ['list-pull-requests', 'pull-requests: read and contents: write']
  ])('names the permission a 403 on %s needs', (step, needs) => {
    const message = translate(http(403, 'Resource not accessible by integration'), step).message
    expect(message).toContain(`It needs ${needs}`)
    expect(message).toContain('(Resource not accessible by integration)')
  })

  it('points at the repository setting when Actions may not open pull requests', () => {
    const error = translate(
      http(403, 'GitHub Actions is not permitted to create or approve pull requests.'),
      'create-pull-request'
    )
    expect(error.message).toContain('"Allow GitHub Actions to create and approve pull requests"')
  })

  it('recognises a rate limit behind a 403', () => {
    const error = translate(
      http(403, 'API rate limit exceeded', { 'x-ratelimit-remaining': '0' }),
      'read-file'
    )
    expect(error.message).toMatch(/^GitHub's API rate limit was reached while reading/)
  })

  it('tells a missing branch from a missing path, and a missing repository from both', () => {
    expect(
      translate(http(404, 'No commit found for the ref rel-800'), 'read-file').message
    ).toMatch(/^branch master does not exist in openemr\/openemr \(404: No commit found/)
    expect(translate(http(404, 'Not Found'), 'read-file').message).toMatch(
      /^openemr\/\.ebextensions\/06-redis-configuration\.config does not exist on branch master/
    )
    expect(translate(http(404, 'Branch master not found'), 'write-file').message).toMatch(
      /^branch master does not exist/
    )
    expect(translate(http(404, 'Not Found'), 'read-repository').message).toMatch(
      /^repository openemr\/openemr was not found, or the token cannot see it/
    )
    expect(translate(http(404, 'Not Found'), 'write-file').message).toMatch(/lacks contents: write/)
  })

  it('reads a protection refusal as such and suggests pull-request mode', () => {
    for (const [status, said] of [
      [422, 'Protected branch update failed for refs/heads/master.'],
      [409, 'Repository rule violations found\n\nChanges must be made through a pull request.\n\n']
    ] as const) {
      const message = translate(http(status, said), 'write-file').message
      expect(message).toMatch(
        new RegExp(`^GitHub refused the commit to branch master of openemr/openemr \\(${status}: `)
      )
      expect(message).toContain('pull-request: true')
      expect(message).not.toContain('\n')
    }
    expect(translate(http(422, 'Invalid request.'), 'write-file').message).toBe(
      'GitHub answered 422 while committing openemr/.ebextensions/06-redis-configuration.config on branch master of openemr/openemr: Invalid request.'
    )
  })

  it('says when GitHub could not be reached at all', () => {
    const network = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { status: 500 })
    expect(translate(network, 'read-repository').message).toMatch(
      /^could not reach the GitHub API at https:\/\/api\.github\.com while reading the repository openemr\/openemr: connect ECONNREFUSED/
    )
  })

  it('passes through errors that are not HTTP failures', () => {
    const plain = new TypeError('boom')
    expect(translate(plain, 'read-file')).toBe(plain)
    expect(translate('text', 'read-file')).toEqual(new Error('text'))
    const already = new GitHubConfigError('done', 409, 'write-file')
    expect(translate(already, 'read-file')).toBe(already)
  })
})

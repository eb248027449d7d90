// Turns GitHub API failures into messages that say what to change: the permission the token
// lacks, the branch or path that is missing, the protection that refused the commit.

export type GitHubStep =
  | 'read-repository'
  | 'read-file'
  | 'write-file'
  | 'read-branch'
  | 'create-branch'
  | 'update-branch'
  | 'list-pull-requests'
  | 'create-pull-request'

export interface ErrorContext {
  step: GitHubStep
  owner: string
  repo: string
  path?: string
  branch?: string
  apiUrl: string
}

/** A GitHub API call failed; `status` is GitHub's HTTP error status, 0 when there was none. */
export class GitHubConfigError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly step: GitHubStep,
    options?: { cause?: unknown }
  ) {
    super(message, options)
    this.name = 'GitHubConfigError'
  }
}

/** The parts of Octokit's RequestError this module reads. */
interface HttpFailure {
  status: number
  message: string
  response?: { data?: unknown; headers?: Record<string, string | number | undefined> }
}

export function isHttpFailure(error: unknown): error is HttpFailure {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    typeof (error as { message?: unknown }).message === 'string'
  )
}

/** GitHub's own message from the response body, without Octokit's documentation suffix. */
export function gitHubMessage(error: HttpFailure): string {
  const data = error.response?.data
  if (typeof data === 'object' && data !== null && 'message' in data) {
    const message = (data as { message: unknown }).message
    if (typeof message === 'string' && message !== '') return message.replace(/\s+/g, ' ').trim()
  }
  return error.message
}

const DOING: Record<GitHubStep, string> = {
  'read-repository': 'reading the repository',
  'read-file': 'reading',
  'write-file': 'committing',
  'read-branch': 'reading branch',
  'create-branch': 'creating branch',
  'update-branch': 'updating branch',
  'list-pull-requests': 'looking for an open pull request in',
  'create-pull-request': 'opening a pull request in'
}

function what(ctx: ErrorContext): string {
  const repo = `${ctx.owner}/${ctx.repo}`
  switch (ctx.step) {
    case 'read-file':
    case 'write-file':
      return `${DOING[ctx.step]} ${ctx.path} on branch ${ctx.branch} of ${repo}`
    case 'read-branch':
    case 'create-branch':
    case 'update-branch':
      return `${DOING[ctx.step]} ${ctx.branch} of ${repo}`
    default:
      return `${DOING[ctx.step]} ${repo}`
  }
}

const WRITE_STEPS: GitHubStep[] = ['write-file', 'create-branch', 'update-branch']
const PULL_STEPS: GitHubStep[] = ['list-pull-requests', 'create-pull-request']

function permission(step: GitHubStep): string {
  if (step === 'create-pull-request') return 'pull-requests: write'
  if (step === 'list-pull-requests') return 'pull-requests: read'
  return WRITE_STEPS.includes(step) ? 'contents: write' : 'contents: read'
}

function forbidden(ctx: ErrorContext, said: string, response: HttpFailure['response']): string {
  const doing = what(ctx)
  if (String(response?.headers?.['x-ratelimit-remaining']) === '0' || /rate limit/i.test(said))
    return `GitHub's API rate limit was reached while ${doing} (403: ${said}). Re-run the job later.`
  if (/not permitted to create or approve pull requests/i.test(said))
    return (
      `GitHub does not let this workflow's token open pull requests (403: ${said}). In the repository's ` +
      'Settings > Actions > General, enable "Allow GitHub Actions to create and approve pull requests", ' +
      'or pass a token that may open them as github-token.'
    )
  const needs = permission(ctx.step)
  return (
    `the token may not do this: 403 while ${doing} (${said}). It needs ${needs}` +
    (PULL_STEPS.includes(ctx.step) ? ' and contents: write' : '') +
    `: add \`permissions: { ${needs} }\` to the job, or pass a token with that access to ${ctx.owner}/${ctx.repo} as github-token.`
  )
}

function notFound(ctx: ErrorContext, said: string): string {
  const repo = `${ctx.owner}/${ctx.repo}`
  if (ctx.step === 'read-repository')
    return (
      `repository ${repo} was not found, or the token cannot see it (404). Check config-repository; ` +
      "the workflow's own GITHUB_TOKEN reaches only its own repository, so another repository needs a token " +
      'with contents: write there.'
    )
  if (ctx.step === 'read-branch' || /no commit found for the ref|branch .* not found/i.test(said))
    return `branch ${ctx.branch} does not exist in ${repo} (404: ${said}). Check config-branch, or leave it empty for the default branch.`
  if (ctx.step === 'read-file')
    return `${ctx.path} does not exist on branch ${ctx.branch} of ${repo} (404). Check config-path; the OpenEMR repository keeps it at openemr/.ebextensions/06-redis-configuration.config.`
  // GitHub answers 404 instead of 403 when a token may read but not write some resources.
  return `GitHub answered 404 while ${what(ctx)} (${said}): the branch may have been deleted meanwhile, or the token lacks ${permission(ctx.step)}.`
}

/** Rewords a failed GitHub call; anything that is not an HTTP failure is returned as it is. */
export function translateGitHubError(error: unknown, ctx: ErrorContext): Error {
  if (error instanceof GitHubConfigError) return error
  if (!isHttpFailure(error)) return error instanceof Error ? error : new Error(String(error))
  const said = gitHubMessage(error)
  const status = error.status
  let message: string
  if (error.response === undefined)
    message = `could not reach the GitHub API at ${ctx.apiUrl} while ${what(ctx)}: ${said}. For GitHub Enterprise Server, GITHUB_API_URL must name its API (https://HOST/api/v3).`
  else if (status === 401)
    message = `GitHub rejected the token (401: ${said}) while ${what(ctx)}. github-token is wrong, expired or revoked; the default \${{ github.token }} works when the job has contents: write.`
  else if (status === 403) message = forbidden(ctx, said, error.response)
  else if (status === 404) message = notFound(ctx, said)
  else if (
    (status === 409 || status === 422) &&
    ctx.step === 'write-file' &&
    /protected|rule|pull request|review|status check/i.test(said)
  )
    message =
      `GitHub refused the commit to branch ${ctx.branch} of ${ctx.owner}/${ctx.repo} (${status}: ${said}). ` +
      'The branch is protected (required reviews, status checks or a ruleset); set pull-request: true ' +
      'to propose the change as a pull request instead.'
  else message = `GitHub answered ${status} while ${what(ctx)}: ${said}`
  return new GitHubConfigError(message, status, ctx.step, { cause: error })
}

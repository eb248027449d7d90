// Publishes the rewritten config file: one commit on the branch, or a pull request from a
// branch the action keeps for it. Every write names the blob it replaces, so a change made by
// someone else between our read and our write is never overwritten.

import type { ConfigSettings } from '../inputs.js'
import { unifiedDiff } from './diff.js'
import { GitHubConfigError } from './github-errors.js'
import { createOctokit, gitHubApiUrl } from './octokit.js'
import { RepositoryApi, type GitIdentity, type RepoFile } from './repository.js'
import { rewriteConfig, type LineChange, type RedisEndpoint } from './rewrite.js'

/** The identity GitHub shows for commits made by workflows with GITHUB_TOKEN. */
export const GITHUB_ACTIONS_BOT: GitIdentity = {
  name: 'github-actions[bot]',
  email: '41898282+github-actions[bot]@users.noreply.github.com'
}

/** How many times a write is retried after the file changed between read and write. */
export const MAX_ATTEMPTS = 3

export const PULL_REQUEST_BRANCH_PREFIX = 'openemr-redis-action/'

export interface PublishOptions {
  /** Read, rewrite and diff only; nothing is written (plan mode). */
  dryRun: boolean
  /** Names the pull-request branch, so two deployments do not share one. */
  deployment?: string
  /** Author and committer; GITHUB_ACTIONS_BOT when not given. */
  identity?: GitIdentity
  /** Progress lines (never secrets); silent when not given. */
  log?: (message: string) => void
}

export interface PublishResult {
  /** The file on the base branch does not yet point at the endpoint. */
  changed: boolean
  /** The commit that carries the rewrite; undefined when nothing was (or would be) written. */
  commitSha: string | undefined
  pullRequestUrl: string | undefined
  /** Unified diff of the base branch's file against the rewrite; '' when unchanged. */
  diff: string
  changes: LineChange[]
  warnings: string[]
  /** The branch written to (the pull-request branch in pull-request mode). */
  branch: string
  /** The branch read from and, in pull-request mode, the pull request's base. */
  baseBranch: string
}

/** `openemr-redis-action/<deployment>`, made safe for a git ref name. */
export function pullRequestBranch(deployment?: string): string {
  const name = (deployment ?? '').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '')
  return `${PULL_REQUEST_BRANCH_PREFIX}${name || 'redis-endpoint'}`
}

export function defaultCommitMessage(endpoint: RedisEndpoint): string {
  return `Point OpenEMR PHP sessions at Redis ${endpoint.ip}:${endpoint.port}`
}

const PULL_REQUEST_TITLE = 'Point OpenEMR PHP sessions at the Redis host'

function pullRequestBody(path: string): string {
  // Deliberately names no address: later runs move this branch and the body would go stale.
  return [
    `This branch is maintained by openemr-redis-action. Each run rewrites \`${path}\` so that PHP`,
    'sessions go to the Redis host it manages, and updates this pull request; the commits name the',
    'endpoint. No password is ever written into the file.'
  ].join('\n')
}

const isRace = (error: unknown) =>
  error instanceof GitHubConfigError && (error.status === 409 || error.status === 422)

class Publisher {
  private readonly api: RepositoryApi
  private readonly identity: GitIdentity
  private readonly message: string
  private readonly log: (message: string) => void

  constructor(
    private readonly config: ConfigSettings,
    private readonly endpoint: RedisEndpoint,
    private readonly options: PublishOptions
  ) {
    const apiUrl = gitHubApiUrl()
    const { owner, repo, path } = config
    this.api = new RepositoryApi(createOctokit(config.token, apiUrl), { owner, repo, path }, apiUrl)
    this.identity = options.identity ?? GITHUB_ACTIONS_BOT
    this.message = config.commitMessage || defaultCommitMessage(endpoint)
    this.log = options.log ?? (() => undefined)
  }

  async publish(): Promise<PublishResult> {
    const base = this.config.branch || (await this.api.defaultBranch())
    return this.config.pullRequest ? this.viaPullRequest(base) : this.direct(base)
  }

  private proposal(file: RepoFile, base: string, branch: string) {
    const rewrite = rewriteConfig(file.text, this.endpoint)
    const path = this.config.path
    const result: PublishResult = {
      changed: rewrite.changed,
      commitSha: undefined,
      pullRequestUrl: undefined,
      diff: unifiedDiff(file.text, rewrite.text, { fromFile: `a/${path}`, toFile: `b/${path}` }),
      changes: rewrite.changes,
      warnings: rewrite.warnings,
      branch,
      baseBranch: base
    }
    return { text: rewrite.text, result }
  }

  /**
   * After a 409/422 on a write: if the file moved on, returns it so the rewrite is re-applied
   * to the new version; if it did not, GitHub refused the write itself (branch protection), so
   * the error stands.
   */
  private async afterRefusal(error: unknown, file: RepoFile, branch: string, attempt: number) {
    if (!isRace(error)) throw error
    const current = await this.api.readFile(branch)
    if (current.sha === file.sha) throw error
    if (attempt >= MAX_ATTEMPTS)
      throw new Error(
        `${this.config.path} on ${branch} changed between reading and writing ${MAX_ATTEMPTS} times in a row; this run committed nothing. Re-run the job once the other writer is done.`
      )
    this.log(`${this.config.path} changed on ${branch} while it was rewritten; reading it again`)
    return current
  }

  private async direct(base: string): Promise<PublishResult> {
    let file = await this.api.readFile(base)
    for (let attempt = 1; ; attempt++) {
      const { text, result } = this.proposal(file, base, base)
      if (!result.changed || this.options.dryRun) return result
      try {
        const commitSha = await this.api.writeFile(
          base,
          file.sha,
          text,
          this.message,
          this.identity
        )
        this.log(`committed ${this.config.path} to ${base} as ${commitSha}`)
        return { ...result, commitSha }
      } catch (error) {
        file = await this.afterRefusal(error, file, base, attempt)
      }
    }
  }

  private async viaPullRequest(base: string): Promise<PublishResult> {
    const head = pullRequestBranch(this.options.deployment)
    if (head === base)
      throw new Error(
        `config-branch is ${base}, the branch pull-request mode commits to. Choose another base branch.`
      )
    for (let attempt = 1; ; attempt++) {
      // Read the base at one commit, so the branch starts exactly where the file was read.
      const baseSha = await this.api.branchSha(base)
      if (baseSha === undefined)
        throw new GitHubConfigError(
          `branch ${base} does not exist in ${this.config.owner}/${this.config.repo}. Check config-branch, or leave it empty for the default branch.`,
          404,
          'read-branch'
        )
      const baseFile = await this.api.readFile(baseSha, base)
      const { text, result } = this.proposal(baseFile, base, head)
      if (!result.changed || this.options.dryRun) return result

      let headSha = await this.api.branchSha(head)
      const open = headSha === undefined ? undefined : await this.api.findPullRequest(head, base)
      let file = baseFile
      let wanted = text
      if (open && headSha) {
        // Build on the open pull request: its branch holds an earlier run's address, which the
        // rewrite recognises, and anything a reviewer pushed there stays.
        file = await this.api.readFile(headSha, head)
        wanted = rewriteConfig(file.text, this.endpoint).text
      } else {
        // No open pull request: whatever the branch holds is stale, so it starts over at base.
        if (headSha === undefined)
          await this.tolerateRace(() => this.api.createBranch(head, baseSha))
        else await this.api.resetBranch(head, baseSha)
        headSha = baseSha
      }

      let commitSha = headSha
      if (file.text !== wanted) {
        try {
          commitSha = await this.api.writeFile(head, file.sha, wanted, this.message, this.identity)
        } catch (error) {
          await this.afterRefusal(error, file, head, attempt)
          continue
        }
        this.log(`committed ${this.config.path} to ${head} as ${commitSha}`)
      }
      const pullRequest = open ?? (await this.openOrFind(head, base))
      this.log(`pull request ${pullRequest.url}`)
      return { ...result, commitSha, pullRequestUrl: pullRequest.url }
    }
  }

  /** A branch created by a concurrent run between our lookup and our create is fine. */
  private async tolerateRace(create: () => Promise<void>): Promise<void> {
    try {
      await create()
    } catch (error) {
      if (!(error instanceof GitHubConfigError && error.status === 422)) throw error
    }
  }

  private async openOrFind(head: string, base: string) {
    try {
      return await this.api.openPullRequest(
        head,
        base,
        PULL_REQUEST_TITLE,
        pullRequestBody(this.config.path)
      )
    } catch (error) {
      // "A pull request already exists": a concurrent run opened it first.
      const existing =
        error instanceof GitHubConfigError && error.status === 422
          ? await this.api.findPullRequest(head, base)
          : undefined
      if (existing) return existing
      throw error
    }
  }
}

/**
 * Rewrites the config file in `config.owner/config.repo` to point at `endpoint` and commits it
 * (to `config.branch`, or through a pull request when `config.pullRequest`). With
 * `options.dryRun` it only reads and returns the diff. Throws ConfigRewriteError when the file
 * has nothing to rewrite and GitHubConfigError for refusals, each naming what to fix.
 */
export async function publishConfig(
  config: ConfigSettings,
  endpoint: RedisEndpoint,
  options: PublishOptions
): Promise<PublishResult> {
  return new Publisher(config, endpoint, options).publish()
}

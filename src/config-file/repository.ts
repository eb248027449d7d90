// The few GitHub REST calls the config step makes, each failure reworded by github-errors.

import {
  GitHubConfigError,
  isHttpFailure,
  translateGitHubError,
  type GitHubStep
} from './github-errors.js'
import type { Octokit } from './octokit.js'

export interface GitIdentity {
  name: string
  email: string
}

/** A file as read from one commit: its text and the blob sha a write must name. */
export interface RepoFile {
  text: string
  sha: string
}

export interface PullRequest {
  number: number
  url: string
}

export interface RepositoryTarget {
  owner: string
  repo: string
  path: string
}

const isStatus = (error: unknown, ...statuses: number[]) =>
  isHttpFailure(error) && statuses.includes(error.status)

export class RepositoryApi {
  constructor(
    private readonly octokit: Octokit,
    private readonly target: RepositoryTarget,
    private readonly apiUrl: string
  ) {}

  private async call<T>(step: GitHubStep, branch: string | undefined, fn: () => Promise<T>) {
    try {
      return await fn()
    } catch (error) {
      const { owner, repo, path } = this.target
      throw translateGitHubError(error, { step, owner, repo, path, branch, apiUrl: this.apiUrl })
    }
  }

  private fail(step: GitHubStep, message: string): never {
    throw new GitHubConfigError(message, 0, step)
  }

  private get repoName(): string {
    return `${this.target.owner}/${this.target.repo}`
  }

  async defaultBranch(): Promise<string> {
    const { owner, repo } = this.target
    const { data } = await this.call('read-repository', undefined, () =>
      this.octokit.rest.repos.get({ owner, repo })
    )
    return data.default_branch
  }

  /** The commit a branch points at; undefined when the branch does not exist. */
  async branchSha(branch: string): Promise<string | undefined> {
    const { owner, repo } = this.target
    try {
      const { data } = await this.octokit.rest.git.getRef({ owner, repo, ref: `heads/${branch}` })
      return data.object.sha
    } catch (error) {
      if (isStatus(error, 404)) return undefined
      throw translateGitHubError(error, {
        step: 'read-branch',
        owner,
        repo,
        branch,
        apiUrl: this.apiUrl
      })
    }
  }

  async createBranch(branch: string, sha: string): Promise<void> {
    const { owner, repo } = this.target
    await this.call('create-branch', branch, () =>
      this.octokit.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha })
    )
  }

  /** Points a branch at `sha` even when that is not a fast-forward. */
  async resetBranch(branch: string, sha: string): Promise<void> {
    const { owner, repo } = this.target
    await this.call('update-branch', branch, () =>
      this.octokit.rest.git.updateRef({ owner, repo, ref: `heads/${branch}`, sha, force: true })
    )
  }

  /** Reads the config file at `ref` (a branch or a commit sha); `branch` names it in errors. */
  async readFile(ref: string, branch: string = ref): Promise<RepoFile> {
    const { owner, repo, path } = this.target
    const { data } = await this.call('read-file', branch, () =>
      this.octokit.rest.repos.getContent({ owner, repo, path, ref })
    )
    const where = `${path} on branch ${branch} of ${this.repoName}`
    if (Array.isArray(data))
      this.fail('read-file', `${where} is a directory, not a file. Check config-path.`)
    if (data.type !== 'file') this.fail('read-file', `${where} is a ${data.type}, not a file.`)
    if (data.encoding !== 'base64' || typeof data.content !== 'string')
      this.fail(
        'read-file',
        `${where} came back without its content (encoding ${data.encoding}); the contents API leaves out files over 1 MB, and this config file should be a few hundred bytes.`
      )
    const bytes = Buffer.from(data.content, 'base64')
    const text = bytes.toString('utf8')
    // Anything that does not survive a UTF-8 round trip would be altered by the rewrite.
    if (!Buffer.from(text, 'utf8').equals(bytes))
      this.fail('read-file', `${where} is not UTF-8 text; rewriting it could damage it.`)
    return { text, sha: data.sha }
  }

  /** Commits `text` as the file on `branch`, replacing blob `sha`; returns the commit sha. */
  async writeFile(
    branch: string,
    sha: string,
    text: string,
    message: string,
    identity: GitIdentity
  ): Promise<string> {
    const { owner, repo, path } = this.target
    const { data } = await this.call('write-file', branch, () =>
      this.octokit.rest.repos.createOrUpdateFileContents({
        owner,
        repo,
        path,
        branch,
        sha,
        message,
        content: Buffer.from(text, 'utf8').toString('base64'),
        author: identity,
        committer: identity
      })
    )
    const commit = data.commit.sha
    if (!commit)
      this.fail('write-file', `GitHub accepted the commit to ${branch} but named no sha.`)
    return commit
  }

  async findPullRequest(head: string, base: string): Promise<PullRequest | undefined> {
    const { owner, repo } = this.target
    const { data } = await this.call('list-pull-requests', head, () =>
      this.octokit.rest.pulls.list({
        owner,
        repo,
        head: `${owner}:${head}`,
        base,
        state: 'open',
        per_page: 1
      })
    )
    return data[0] && { number: data[0].number, url: data[0].html_url }
  }

  async openPullRequest(
    head: string,
    base: string,
    title: string,
    body: string
  ): Promise<PullRequest> {
    const { owner, repo } = this.target
    const { data } = await this.call('create-pull-request', head, () =>
      this.octokit.rest.pulls.create({ owner, repo, head, base, title, body })
    )
    return { number: data.number, url: data.html_url }
  }
}

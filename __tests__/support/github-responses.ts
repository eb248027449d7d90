// Response bodies in GitHub's shapes. The large objects (repository, pull request) start from
// GitHub's own examples in the OpenAPI description, re-addressed to the local server, with the
// fields that matter taken from the real git repository.

import type { OpenApiContract } from './github-openapi.js'
import type { Identity, TreeEntry } from './github-git.js'

export interface Site {
  /** The REST root clients use, like http://127.0.0.1:PORT or http://127.0.0.1:PORT/api/v3. */
  api: string
  /** Where html_url links point. */
  web: string
  owner: string
  repo: string
  login: string
}

export interface PullRequestRecord {
  number: number
  title: string
  body: string | null
  head: string
  base: string
  state: 'open' | 'closed'
  createdAt: string
}

const DOCS = 'https://docs.github.com/rest'

/** GitHub's example with its addresses and names replaced by this site's. */
function adopt<T>(contract: OpenApiContract, name: string, site: Site): T {
  const json = JSON.stringify(contract.example(name))
    .replaceAll('https://api.github.com', site.api)
    .replaceAll('https://github.com', site.web)
    .replace(/\b(octocat|octo-org)\/(Hello-World|octo-repo)\b/g, `${site.owner}/${site.repo}`)
  return JSON.parse(json) as T
}

const nodeId = (kind: string, id: string | number) =>
  Buffer.from(`0:${kind}${id}`).toString('base64').replace(/=+$/, '')

export function errorBody(message: string, status: number, extra: object = {}) {
  return { message, documentation_url: DOCS, status: String(status), ...extra }
}

export function repositoryBody(contract: OpenApiContract, site: Site, defaultBranch: string) {
  const repo = adopt<Record<string, unknown>>(contract, 'full-repository-default-response', site)
  // The example describes a fork; this repository is not one.
  for (const key of ['parent', 'source', 'template_repository', 'organization']) delete repo[key]
  const owner = repo.owner as Record<string, unknown>
  Object.assign(owner, { login: site.owner, url: `${site.api}/users/${site.owner}` })
  return Object.assign(repo, {
    name: site.repo,
    full_name: `${site.owner}/${site.repo}`,
    fork: false,
    language: null,
    default_branch: defaultBranch,
    permissions: { admin: false, maintain: false, push: true, triage: true, pull: true }
  })
}

/** Base64 wrapped at 60 characters, the way the contents API sends it. */
function wrappedBase64(content: Buffer): string {
  return `${content.toString('base64').replace(/.{60}/g, '$&\n')}\n`
}

function fileLinks(site: Site, path: string, ref: string, sha: string) {
  const self = `${site.api}/repos/${site.owner}/${site.repo}/contents/${path}?ref=${encodeURIComponent(ref)}`
  const git = `${site.api}/repos/${site.owner}/${site.repo}/git/blobs/${sha}`
  const html = `${site.web}/${site.owner}/${site.repo}/blob/${ref}/${path}`
  return { url: self, git_url: git, html_url: html, _links: { self, git, html } }
}

export function contentFileBody(
  site: Site,
  path: string,
  ref: string,
  entry: TreeEntry,
  content: Buffer
) {
  return {
    type: 'file',
    encoding: 'base64',
    size: content.length,
    name: path.split('/').pop()!,
    path,
    content: wrappedBase64(content),
    sha: entry.sha,
    download_url: `${site.web}/${site.owner}/${site.repo}/raw/${ref}/${path}`,
    ...fileLinks(site, path, ref, entry.sha)
  }
}

export function directoryBody(site: Site, ref: string, entries: (TreeEntry & { path: string })[]) {
  return entries.map(e => ({
    type: e.type === 'tree' ? 'dir' : e.type === 'commit' ? 'submodule' : 'file',
    size: 0,
    name: e.path.split('/').pop()!,
    path: e.path,
    sha: e.sha,
    download_url: null,
    ...fileLinks(site, e.path, ref, e.sha)
  }))
}

export interface CommitFacts {
  sha: string
  tree: string
  parents: string[]
  author: Required<Identity>
  committer: Required<Identity>
  message: string
}

export function fileCommitBody(
  site: Site,
  path: string,
  branch: string,
  blob: string,
  size: number,
  commit: CommitFacts
) {
  const repoApi = `${site.api}/repos/${site.owner}/${site.repo}`
  const links = fileLinks(site, path, branch, blob)
  return {
    content: {
      name: path.split('/').pop()!,
      path,
      sha: blob,
      size,
      type: 'file',
      download_url: `${site.web}/${site.owner}/${site.repo}/raw/${branch}/${path}`,
      ...links
    },
    commit: {
      sha: commit.sha,
      node_id: nodeId('Commit', commit.sha),
      url: `${repoApi}/git/commits/${commit.sha}`,
      html_url: `${site.web}/${site.owner}/${site.repo}/commit/${commit.sha}`,
      author: commit.author,
      committer: commit.committer,
      message: commit.message,
      tree: { url: `${repoApi}/git/trees/${commit.tree}`, sha: commit.tree },
      parents: commit.parents.map(p => ({
        url: `${repoApi}/git/commits/${p}`,
        html_url: `${site.web}/${site.owner}/${site.repo}/commit/${p}`,
        sha: p
      })),
      verification: {
        verified: false,
        reason: 'unsigned',
        signature: null,
        payload: null,
        verified_at: null
      }
    }
  }
}

export function gitRefBody(site: Site, ref: string, sha: string) {
  const repoApi = `${site.api}/repos/${site.owner}/${site.repo}`
  return {
    ref,
    node_id: nodeId('Ref', ref),
    url: `${repoApi}/git/${ref}`,
    object: { type: 'commit', sha, url: `${repoApi}/git/commits/${sha}` }
  }
}

/** A pull request as pulls/create (full) or pulls/list (simple) returns it. */
export function pullRequestBody(
  contract: OpenApiContract,
  site: Site,
  pr: PullRequestRecord,
  shas: { head: string; base: string },
  simple: boolean
) {
  const body = adopt<Record<string, unknown>>(
    contract,
    simple ? 'pull-request-simple-items' : 'pull-request',
    site
  )
  const record = (Array.isArray(body) ? body[0] : body) as Record<string, unknown>
  const api = `${site.api}/repos/${site.owner}/${site.repo}`
  const side = (key: 'head' | 'base', ref: string, sha: string) => {
    const value = record[key] as Record<string, unknown>
    Object.assign(value, { label: `${site.owner}:${ref}`, ref, sha })
    Object.assign(value.user as object, { login: site.owner })
    Object.assign(value.repo as object, {
      name: site.repo,
      full_name: `${site.owner}/${site.repo}`
    })
  }
  side('head', pr.head, shas.head)
  side('base', pr.base, shas.base)
  Object.assign(record, {
    id: pr.number + 1000,
    node_id: nodeId('PullRequest', pr.number),
    number: pr.number,
    url: `${api}/pulls/${pr.number}`,
    html_url: `${site.web}/${site.owner}/${site.repo}/pull/${pr.number}`,
    title: pr.title,
    body: pr.body,
    state: pr.state,
    draft: false,
    labels: [],
    milestone: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    created_at: pr.createdAt,
    updated_at: pr.createdAt,
    closed_at: null,
    merged_at: null,
    merge_commit_sha: null,
    auto_merge: null
  })
  Object.assign(record.user as object, { login: site.login })
  if (!simple)
    Object.assign(record, {
      merged: false,
      merged_by: null,
      mergeable: null,
      mergeable_state: 'unknown',
      rebaseable: null
    })
  return record
}

// A local stand-in for the GitHub REST API: exactly the endpoints the config step uses, served
// from a real bare git repository on 127.0.0.1, with every request body and response checked
// against GitHub's OpenAPI description. Tests inject faults (bad token, missing permission,
// protected branch) and races (a commit landing between the client's read and its write).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BareRepository, type Identity } from './github-git.js'
import { OpenApiContract, type Operation } from './github-openapi.js'
import {
  contentFileBody,
  directoryBody,
  errorBody,
  fileCommitBody,
  gitRefBody,
  pullRequestBody,
  repositoryBody,
  type PullRequestRecord,
  type Site
} from './github-responses.js'

export interface GitHubServerOptions {
  owner?: string
  repo?: string
  defaultBranch?: string
  /** The only token the server accepts. */
  token?: string
  /** The login behind the token: the default committer and the pull requests' author. */
  login?: string
  /** Path prefix of the API, like /api/v3 on GitHub Enterprise Server. */
  prefix?: string
  /** Files of the first commit on the default branch. */
  files?: Record<string, string | Buffer>
}

/** Answers requests for one operation with an error instead of serving them. */
export interface Fault {
  /** An operationId from GitHub's description, like repos/create-or-update-file-contents. */
  operation: string
  status: number
  message?: string
  /** How many requests it answers; every one when not given. */
  times?: number
}

export interface RecordedRequest {
  method: string
  path: string
  operation: string
  status: number
  body?: unknown
}

type Hook = (request: { branch: string; path: string }) => Promise<void> | void
type Reply = { status: number; body?: unknown }
type Params = Record<string, string>
type Handler = (params: Params, query: URLSearchParams, body: unknown) => Promise<Reply>

export const SEED_AUTHOR: Identity = { name: 'Seed Author', email: 'seed@example.com' }

const DEFAULT_FAULT_MESSAGES: Record<number, string> = {
  401: 'Bad credentials',
  403: 'Resource not accessible by integration',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Validation Failed',
  500: 'Server Error'
}

class HttpReply extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`)
  }
}

function fail(status: number, message: string, extra: object = {}): never {
  throw new HttpReply({ status, body: errorBody(message, status, extra) })
}

export class GitHubServer {
  readonly violations: string[] = []
  readonly requests: RecordedRequest[] = []
  readonly pulls: PullRequestRecord[] = []
  readonly owner: string
  readonly repo: string
  readonly token: string
  readonly login: string
  readonly git: BareRepository
  private readonly contract = new OpenApiContract()
  private readonly faults: Fault[] = []
  private readonly protectedBranches = new Map<string, number>()
  private readonly writeHooks: { hook: Hook; times: number }[] = []
  private readonly routes: { op: Operation; pattern: RegExp; names: string[]; handler: Handler }[]
  private server!: Server
  private site!: Site
  url = ''

  private constructor(
    git: BareRepository,
    private readonly options: GitHubServerOptions
  ) {
    this.git = git
    this.owner = options.owner ?? 'openemr'
    this.repo = options.repo ?? 'openemr'
    this.token = options.token ?? 'ghs_localTestToken0000000000000000000000'
    this.login = options.login ?? 'github-actions[bot]'
    const R = '/repos/{owner}/{repo}'
    this.routes = [
      this.route('GET', R, () => this.getRepository()),
      this.route('GET', `${R}/contents/{path}`, (p, q) => this.getContent(p.path, q.get('ref'))),
      this.route('PUT', `${R}/contents/{path}`, (p, _q, b) => this.putContent(p.path, b)),
      this.route('GET', `${R}/git/ref/{ref}`, p => this.getRef(p.ref)),
      this.route('POST', `${R}/git/refs`, (_p, _q, b) => this.createRef(b)),
      this.route('PATCH', `${R}/git/refs/{ref}`, (p, _q, b) => this.updateRef(p.ref, b)),
      this.route('GET', `${R}/pulls`, (_p, q) => this.listPulls(q)),
      this.route('POST', `${R}/pulls`, (_p, _q, b) => this.createPull(b))
    ]
  }

  static async start(options: GitHubServerOptions = {}): Promise<GitHubServer> {
    const git = await BareRepository.create(options.defaultBranch ?? 'master')
    const server = new GitHubServer(git, options)
    if (options.files)
      await git.commitToBranch(
        options.defaultBranch ?? 'master',
        options.files,
        'Initial commit',
        SEED_AUTHOR
      )
    await server.listen()
    return server
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.serve(req, res))
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    const { port } = this.server.address() as AddressInfo
    const root = `http://127.0.0.1:${port}`
    this.url = `${root}${this.options.prefix ?? ''}`
    this.site = { api: this.url, web: root, owner: this.owner, repo: this.repo, login: this.login }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
    await this.git.remove()
  }

  /** Answers the next `times` requests for an operation with an error status. */
  inject(fault: Fault): void {
    this.faults.push({ ...fault })
  }

  /** Refuses contents writes to a branch, as branch protection or a ruleset does. */
  protect(branch: string, status: 409 | 422 = 422): void {
    this.protectedBranches.set(branch, status)
  }

  /** Runs `hook` when a contents write arrives, before the server looks at the branch. */
  beforeWrite(hook: Hook, times = 1): void {
    this.writeHooks.push({ hook, times })
  }

  /** Commits files to a branch directly, as another writer would. */
  commit(branch: string, files: Record<string, string>, message: string): Promise<string> {
    return this.git.commitToBranch(branch, files, message, SEED_AUTHOR)
  }

  /** Requests that changed something (anything but GET), for "nothing was written" checks. */
  writes(): RecordedRequest[] {
    return this.requests.filter(r => r.method !== 'GET' && r.status < 300)
  }

  private route(method: string, template: string, handler: Handler) {
    const op = this.contract.operation(method, template)
    const names: string[] = []
    const source = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
      names.push(name)
      // Paths and refs span segments (and may arrive with their slashes encoded).
      return name === 'path' || name === 'ref' ? '(.+)' : '([^/]+)'
    })
    return { op, pattern: new RegExp(`^${source}$`), names, handler }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const prefix = this.options.prefix ?? ''
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : ''
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      operation: '?',
      status: 0
    }
    this.requests.push(record)
    let reply: Reply
    let op: Operation | undefined
    try {
      const raw = await readBody(req)
      const match = this.match(record.method, path)
      if (!match) {
        this.violations.push(`unexpected request ${record.method} ${record.path}`)
        fail(404, 'Not Found')
      }
      op = match!.op
      record.operation = op.operationId
      const body = raw === '' ? undefined : parseJson(raw)
      record.body = body
      reply = await this.handle(req, match!, url.searchParams, body)
    } catch (error) {
      if (error instanceof HttpReply) reply = error.reply
      else {
        this.violations.push(`server error on ${record.method} ${record.path}: ${String(error)}`)
        reply = { status: 500, body: errorBody(String(error), 500) }
      }
    }
    record.status = reply.status
    if (op) this.checkReply(op, reply)
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body)
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-media-type': 'github.v3; format=json',
      'x-ratelimit-remaining': '4999'
    })
    res.end(text)
  }

  private match(method: string, path: string) {
    for (const r of this.routes) {
      if (r.op.method !== method) continue
      const m = r.pattern.exec(path)
      if (!m) continue
      const params: Params = {}
      r.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])))
      return { ...r, params }
    }
    return undefined
  }

  private async handle(
    req: IncomingMessage,
    match: NonNullable<ReturnType<GitHubServer['match']>>,
    query: URLSearchParams,
    body: unknown
  ): Promise<Reply> {
    const auth = req.headers.authorization ?? ''
    const presented = /^(?:token|bearer) (.+)$/i.exec(auth)?.[1]
    if (presented !== this.token) fail(401, 'Bad credentials')
    if (match.params.owner !== this.owner || match.params.repo !== this.repo) fail(404, 'Not Found')

    const fault = this.faults.find(f => f.operation === match.op.operationId && f.times !== 0)
    if (fault) {
      if (fault.times !== undefined) fault.times--
      fail(fault.status, fault.message ?? DEFAULT_FAULT_MESSAGES[fault.status] ?? 'Error')
    }

    for (const name of query.keys())
      if (!match.op.query.includes(name))
        this.violations.push(`${match.op.operationId}: unknown query parameter ${name}`)
    if (['POST', 'PUT', 'PATCH'].includes(match.op.method)) {
      const problems = this.contract.checkRequest(match.op, body)
      if (problems.length > 0) {
        this.violations.push(...problems)
        fail(422, 'Invalid request.', {
          errors: problems.map(p => ({ code: 'invalid', message: p }))
        })
      }
    }
    return match.handler(match.params, query, body)
  }

  private checkReply(op: Operation, reply: Reply): void {
    const documented = op.object.responses[String(reply.status)] !== undefined
    // GitHub documents 401 for no operation and some errors only in prose: those get the
    // generic error shape; everything documented must match its documented shape.
    const problems = documented
      ? this.contract.checkResponse(op, reply.status, reply.body)
      : reply.status >= 400
        ? this.contract.check(
            { $ref: '#/components/schemas/basic-error' },
            reply.body,
            `${op.operationId} ${reply.status}`
          )
        : [`${op.operationId} does not document status ${reply.status}`]
    this.violations.push(...problems)
  }

  private async getRepository(): Promise<Reply> {
    return {
      status: 200,
      body: repositoryBody(this.contract, this.site, await this.git.defaultBranch())
    }
  }

  private async commitFor(ref: string | null): Promise<{ ref: string; commit: string }> {
    const name = ref ?? (await this.git.defaultBranch())
    const commit = await this.git.resolveCommit(name)
    if (!commit) fail(404, `No commit found for the ref ${name}`)
    return { ref: name, commit: commit! }
  }

  private async getContent(path: string, ref: string | null): Promise<Reply> {
    const at = await this.commitFor(ref)
    const entry = await this.git.entry(at.commit, path)
    if (!entry) fail(404, 'Not Found')
    if (entry!.type === 'tree')
      return {
        status: 200,
        body: directoryBody(this.site, at.ref, await this.git.list(at.commit, path))
      }
    const content = await this.git.blob(entry!.sha)
    return { status: 200, body: contentFileBody(this.site, path, at.ref, entry!, content) }
  }

  private async putContent(path: string, body: unknown): Promise<Reply> {
    const b = body as {
      message: string
      content: string
      sha?: string
      branch?: string
      committer?: Identity
      author?: Identity
    }
    const branch = b.branch ?? (await this.git.defaultBranch())
    for (const h of this.writeHooks.filter(h => h.times > 0)) {
      h.times--
      await h.hook({ branch, path })
    }
    const head = await this.git.branchSha(branch)
    if (!head) fail(404, `Branch ${branch} not found`)
    const protection = this.protectedBranches.get(branch)
    if (protection === 409)
      fail(
        409,
        'Repository rule violations found\n\nChanges must be made through a pull request.\n\n'
      )
    if (protection === 422) fail(422, `Protected branch update failed for refs/heads/${branch}.`)
    if (!/^[A-Za-z0-9+/=\s]*$/.test(b.content)) fail(422, 'content is not valid Base64')

    const current = await this.git.entry(head!, path)
    if (current && !b.sha) fail(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if ((current?.sha ?? '') !== (b.sha ?? ''))
      fail(409, `${path} is at ${current?.sha ?? 'nothing'} but expected ${b.sha}`)

    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    const committer = {
      ...(b.committer ?? { name: this.login, email: `${this.login}@users.noreply.localhost` }),
      date: now
    }
    const author = { ...(b.author ?? committer), date: now }
    const content = Buffer.from(b.content, 'base64')
    const sha = await this.git.commitFiles(head, { [path]: content }, b.message, author, committer)
    if (!(await this.git.updateRef(`refs/heads/${branch}`, sha, head)))
      fail(409, `refs/heads/${branch} moved during the write; retry`)
    const info = await this.git.commitInfo(sha)
    const blob = (await this.git.entry(sha, path))!.sha
    return {
      status: current ? 200 : 201,
      body: fileCommitBody(this.site, path, branch, blob, content.length, {
        sha,
        tree: info.tree,
        parents: info.parents,
        author: info.author,
        committer: info.committer,
        message: info.message
      })
    }
  }

  private async getRef(ref: string): Promise<Reply> {
    const sha = await this.git.refSha(`refs/${ref}`)
    if (!sha) fail(404, 'Not Found')
    return { status: 200, body: gitRefBody(this.site, `refs/${ref}`, sha!) }
  }

  private async createRef(body: unknown): Promise<Reply> {
    const { ref, sha } = body as { ref: string; sha: string }
    if (!/^refs\/.+\/.+/.test(ref))
      fail(422, "ref must start with 'refs/' and have at least two slashes.")
    if (!(await this.git.isCommit(sha))) fail(422, 'Object does not exist')
    if (!(await this.git.updateRef(ref, sha, undefined))) fail(422, 'Reference already exists')
    return { status: 201, body: gitRefBody(this.site, ref, sha) }
  }

  private async updateRef(ref: string, body: unknown): Promise<Reply> {
    const { sha, force } = body as { sha: string; force?: boolean }
    const full = `refs/${ref}`
    const old = await this.git.refSha(full)
    if (!old) fail(422, 'Reference does not exist')
    if (!(await this.git.isCommit(sha))) fail(422, 'Object does not exist')
    if (!force && !(await this.git.isAncestor(old!, sha))) fail(422, 'Update is not a fast forward')
    if (!(await this.git.updateRef(full, sha, old))) fail(409, 'Reference update failed')
    return { status: 200, body: gitRefBody(this.site, full, sha) }
  }

  private headBranch(head: string): string {
    const [owner, branch] = head.includes(':') ? head.split(':', 2) : [this.owner, head]
    if (owner !== this.owner) fail(422, `Cross-repository head ${head} is not served here`)
    return branch
  }

  private async pullBody(pr: PullRequestRecord, simple: boolean) {
    const head = (await this.git.branchSha(pr.head)) ?? ''
    const base = (await this.git.branchSha(pr.base)) ?? ''
    return pullRequestBody(this.contract, this.site, pr, { head, base }, simple)
  }

  private async listPulls(query: URLSearchParams): Promise<Reply> {
    const state = query.get('state') ?? 'open'
    const head = query.get('head')
    const base = query.get('base')
    const perPage = Number(query.get('per_page') ?? 30)
    const found = this.pulls
      .filter(p => state === 'all' || p.state === state)
      .filter(p => head === null || p.head === this.headBranch(head))
      .filter(p => base === null || p.base === base)
      .slice(0, perPage)
    return { status: 200, body: await Promise.all(found.map(p => this.pullBody(p, true))) }
  }

  private async createPull(body: unknown): Promise<Reply> {
    const b = body as { title: string; head: string; base: string; body?: string }
    const head = this.headBranch(b.head)
    const [headSha, baseSha] = [await this.git.branchSha(head), await this.git.branchSha(b.base)]
    const invalid = (field: string) =>
      fail(422, 'Validation Failed', {
        errors: [{ resource: 'PullRequest', field, code: 'invalid' }]
      })
    if (!baseSha) invalid('base')
    if (!headSha) invalid('head')
    if (this.pulls.some(p => p.state === 'open' && p.head === head && p.base === b.base))
      fail(422, 'Validation Failed', {
        errors: [
          {
            resource: 'PullRequest',
            code: 'custom',
            message: `A pull request already exists for ${this.owner}:${head}.`
          }
        ]
      })
    if (await this.git.isAncestor(headSha!, baseSha!))
      fail(422, 'Validation Failed', {
        errors: [
          {
            resource: 'PullRequest',
            code: 'custom',
            message: `No commits between ${b.base} and ${head}`
          }
        ]
      })
    const pr: PullRequestRecord = {
      number: this.pulls.length + 1,
      title: b.title,
      body: b.body ?? null,
      head,
      base: b.base,
      state: 'open',
      createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    }
    this.pulls.push(pr)
    return { status: 201, body: await this.pullBody(pr, false) }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return fail(400, 'Problems parsing JSON')
  }
}

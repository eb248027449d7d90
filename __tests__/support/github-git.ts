// A real bare git repository driven with plumbing only (hash-object, a temporary index,
// write-tree, commit-tree, update-ref with the expected old value), the storage behind the
// local GitHub server. No working tree, no porcelain, no user or global git configuration.

import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Identity {
  name: string
  email: string
  /** ISO 8601; now when not given. */
  date?: string
}

export interface TreeEntry {
  mode: string
  type: 'blob' | 'tree' | 'commit'
  sha: string
}

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string
  ) {
    super(`git ${args.join(' ')} failed: ${stderr.trim()}`)
    this.name = 'GitError'
  }
}

const ZERO = '0'.repeat(40)

export class BareRepository {
  private indexCount = 0

  private constructor(
    /** The bare repository (GIT_DIR). */
    readonly dir: string,
    private readonly home: string
  ) {}

  /** A new bare repository in a temporary directory, HEAD on `defaultBranch`. */
  static async create(defaultBranch: string): Promise<BareRepository> {
    const home = await mkdtemp(join(tmpdir(), 'github-server-'))
    const repo = new BareRepository(join(home, 'repo.git'), home)
    await repo.run(['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, repo.dir], {
      noGitDir: true
    })
    return repo
  }

  async remove(): Promise<void> {
    await rm(this.home, { recursive: true, force: true })
  }

  /** Runs git against this repository with an environment that ignores the machine's config. */
  run(
    args: string[],
    options: { input?: Buffer | string; env?: Record<string, string>; noGitDir?: boolean } = {}
  ): Promise<Buffer> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      LC_ALL: 'C',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      GIT_LITERAL_PATHSPECS: '1',
      ...(options.noGitDir ? {} : { GIT_DIR: this.dir }),
      ...options.env
    }
    return new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        args,
        { env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) reject(new GitError(args, stderr.toString()))
          else resolve(stdout)
        }
      )
      // A git that fails (or needs no input) may exit before reading stdin; the exit code
      // already reports that, so a broken pipe here is not a second error.
      child.stdin?.on('error', () => undefined)
      if (options.input === undefined) child.stdin?.end()
      else child.stdin?.end(options.input)
    })
  }

  async text(args: string[], options?: Parameters<BareRepository['run']>[1]): Promise<string> {
    return (await this.run(args, options)).toString('utf8').trim()
  }

  /** The commit a branch points at, or undefined. */
  async branchSha(branch: string): Promise<string | undefined> {
    return this.refSha(`refs/heads/${branch}`)
  }

  async refSha(ref: string): Promise<string | undefined> {
    try {
      return await this.text(['rev-parse', '-q', '--verify', `${ref}^{commit}`])
    } catch {
      return undefined
    }
  }

  /** A branch or tag name, or a full commit sha, resolved to a commit. */
  async resolveCommit(ref: string): Promise<string | undefined> {
    if (/^[0-9a-f]{40}$/.test(ref)) return (await this.isCommit(ref)) ? ref : undefined
    return (await this.branchSha(ref)) ?? (await this.refSha(`refs/tags/${ref}`))
  }

  async isCommit(sha: string): Promise<boolean> {
    try {
      return (await this.text(['cat-file', '-t', sha])) === 'commit'
    } catch {
      return false
    }
  }

  async defaultBranch(): Promise<string> {
    return (await this.text(['symbolic-ref', 'HEAD'])).replace(/^refs\/heads\//, '')
  }

  async entry(commit: string, path: string): Promise<TreeEntry | undefined> {
    const out = (await this.run(['ls-tree', '-z', commit, '--', path])).toString('utf8')
    const match = /^(\d+) (blob|tree|commit) ([0-9a-f]{40})\t(.*)\0$/s.exec(out)
    if (!match || match[4] !== path) return undefined
    return { mode: match[1], type: match[2] as TreeEntry['type'], sha: match[3] }
  }

  async list(commit: string, dir: string): Promise<(TreeEntry & { path: string })[]> {
    const out = (await this.run(['ls-tree', '-z', `${commit}:${dir}`])).toString('utf8')
    return out
      .split('\0')
      .filter(Boolean)
      .map(line => {
        const [meta, name] = line.split('\t')
        const [mode, type, sha] = meta.split(' ')
        return { mode, type: type as TreeEntry['type'], sha, path: dir ? `${dir}/${name}` : name }
      })
  }

  blob(sha: string): Promise<Buffer> {
    return this.run(['cat-file', 'blob', sha])
  }

  async commitInfo(sha: string) {
    const format = '%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B'
    const out = (await this.run(['show', '-s', `--format=${format}`, sha])).toString('utf8')
    const [tree, parents, an, ae, ad, cn, ce, cd, message] = out.split('\0')
    return {
      tree,
      parents: parents.split(' ').filter(Boolean),
      author: { name: an, email: ae, date: ad },
      committer: { name: cn, email: ce, date: cd },
      message: message.replace(/\n$/, '')
    }
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    try {
      await this.run(['merge-base', '--is-ancestor', ancestor, descendant])
      return true
    } catch {
      return false
    }
  }

  /**
   * Builds a commit on `parent` (none for a root commit) that sets each file in `files`, without
   * moving any ref. Paths keep their mode when they exist.
   */
  async commitFiles(
    parent: string | undefined,
    files: Record<string, Buffer | string>,
    message: string,
    author: Identity,
    committer: Identity = author
  ): Promise<string> {
    const index = join(this.home, `index-${process.pid}-${this.indexCount++}`)
    const env = { GIT_INDEX_FILE: index }
    try {
      await this.run(parent ? ['read-tree', parent] : ['read-tree', '--empty'], { env })
      for (const [path, content] of Object.entries(files)) {
        const blob = await this.text(['hash-object', '-w', '--stdin'], { input: content })
        const mode = (parent && (await this.entry(parent, path))?.mode) || '100644'
        await this.run(['update-index', '--add', '--cacheinfo', `${mode},${blob},${path}`], { env })
      }
      const tree = await this.text(['write-tree'], { env })
      const now = new Date().toISOString()
      return await this.text(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], {
        input: message,
        env: {
          GIT_AUTHOR_NAME: author.name,
          GIT_AUTHOR_EMAIL: author.email,
          GIT_AUTHOR_DATE: author.date ?? now,
          GIT_COMMITTER_NAME: committer.name,
          GIT_COMMITTER_EMAIL: committer.email,
          GIT_COMMITTER_DATE: committer.date ?? now
        }
      })
    } finally {
      await rm(index, { force: true })
    }
  }

  /**
   * Moves `ref` to `sha` only if it still points at `expected` (undefined: must not exist yet),
   * which is what makes a write atomic. False when someone else moved it first.
   */
  async updateRef(ref: string, sha: string, expected: string | undefined): Promise<boolean> {
    try {
      await this.run(['update-ref', ref, sha, expected ?? ZERO])
      return true
    } catch (error) {
      if (error instanceof GitError) return false
      throw error
    }
  }

  /** Commits `files` onto `branch` (creating it from nothing if absent); returns the commit. */
  async commitToBranch(
    branch: string,
    files: Record<string, Buffer | string>,
    message: string,
    author: Identity
  ): Promise<string> {
    const parent = await this.branchSha(branch)
    const commit = await this.commitFiles(parent, files, message, author)
    if (!(await this.updateRef(`refs/heads/${branch}`, commit, parent)))
      throw new Error(`branch ${branch} moved while committing to it`)
    return commit
  }
}

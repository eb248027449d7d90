import { getOctokit } from '@actions/github'

export type Octokit = ReturnType<typeof getOctokit>

const PUBLIC_API = 'https://api.github.com'

/**
 * The REST API root: GITHUB_API_URL, which the runner sets (to https://HOST/api/v3 on GitHub
 * Enterprise Server) and the tests point at their local server.
 */
export function gitHubApiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.GITHUB_API_URL?.trim() || PUBLIC_API).replace(/\/+$/, '')
}

/**
 * An Octokit for `apiUrl`. The URL is passed explicitly because @actions/github reads
 * GITHUB_API_URL only once, when it is first imported.
 */
export function createOctokit(token: string, apiUrl: string): Octokit {
  return getOctokit(token, { baseUrl: apiUrl })
}

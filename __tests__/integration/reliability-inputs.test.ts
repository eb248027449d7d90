// Every bad input of the shared table (support/bad-inputs.ts), given to the committed bundle
// under Node 24 as a runner would: each must be refused by name before anything is sent
// anywhere. AWS and GitHub endpoints point at a local server that counts what reaches it, and
// the secret inputs among the bad values must not show in the log.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BAD_INPUTS, VALID_INPUTS } from '../support/bad-inputs.js'
import { recordCase } from '../support/reliability-record.js'
import { secretsInRun, type Secret } from '../support/reliability-secrets.js'
import { runAction, snapshotBundle, type ActionRun } from '../support/run-action.js'

const SECRET_INPUTS = ['ssh-private-key', 'redis-password', 'github-token']
const PARALLEL = 4

describe('reliability: bad inputs refused by the bundle before any call', () => {
  let server: Server
  let url = ''
  const requests: string[] = []

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`)
      res.writeHead(500).end()
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })

  it(`refuses all ${BAD_INPUTS.length} bad inputs by name, calls nothing, shows no secret`, async () => {
    const t = performance.now()
    const env = {
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ENDPOINT_URL_SSM: url,
      AWS_ENDPOINT_URL: url,
      GITHUB_API_URL: url,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_EC2_METADATA_DISABLED: 'true'
    }
    const failures: string[] = []
    let rejected = 0
    let secretHits: string[] = []
    const bundle = snapshotBundle()
    const check = async ([name, bad, input, message]: (typeof BAD_INPUTS)[number]) => {
      const run: ActionRun = await runAction(
        { ...VALID_INPUTS, ...bad },
        { env, script: bundle.script }
      )
      const lines = [...run.stdout.matchAll(/^::error title=Input ([^:]+)::(.*)$/gm)]
      const named = lines.filter(m => m[1] === input)
      const secrets: Secret[] = SECRET_INPUTS.filter(k => bad[k]).map(k => ({
        name: k,
        value: bad[k]
      }))
      const hits = secretsInRun(run, secrets).map(h => `${name}: ${h}`)
      secretHits = [...secretHits, ...hits]
      if (run.code === 1 && named.length === 1 && message.test(named[0][2])) rejected++
      else
        failures.push(
          `${name}: exit ${run.code}, errors ${JSON.stringify(lines.map(m => `${m[1]}: ${m[2]}`))}`
        )
    }
    const queue = [...BAD_INPUTS]
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) await check(c)
      })
    ).finally(() => bundle.remove())
    recordCase({
      category: 'inputs',
      name: `${BAD_INPUTS.length} bad inputs of support/bad-inputs.ts through the bundle`,
      faults: BAD_INPUTS.length,
      runs: BAD_INPUTS.length,
      survived: failures.length === 0 && requests.length === 0 && secretHits.length === 0,
      leaked: [],
      sshOpen: [],
      secrets: secretHits,
      seconds: Number(((performance.now() - t) / 1000).toFixed(1)),
      detail: { rejected, total: BAD_INPUTS.length, requests: requests.length, failures }
    })
    expect(failures).toEqual([])
    expect(rejected).toBe(BAD_INPUTS.length)
    expect(requests).toEqual([])
    expect(secretHits).toEqual([])
  }, 180_000)
})

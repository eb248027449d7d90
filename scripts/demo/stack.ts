// The stand-ins the action runs against: moto for EC2 and SSM, a VPC like the guide's, a fake
// cloud that boots every instance moto launches as a real Debian host with its security
// groups as nftables, an OpenEMR application server in the client group, and a local GitHub
// API over a bare git repository that holds OpenEMR's legacy Redis config file.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_CONFIG_PATH } from '../../src/inputs.js'
import { FakeCloud } from '../../__tests__/support/fake-cloud.js'
import { GitHubServer } from '../../__tests__/support/github-server.js'
import { startMoto, type Moto, type TestVpc } from '../../__tests__/support/moto.js'
import {
  startTestHost,
  stopAllTestHosts,
  type TestHost
} from '../../__tests__/support/test-host.js'
import type { Teardown } from './teardown.js'

/** 10.60.0.0/16: a block no test file uses, so the demo can run beside the test suite. */
const OCTET = 60
export const HOST_PREFIX = 'demo'
export const APP_ADDRESS = `10.${OCTET}.1.200`

export interface Stack {
  moto: Moto
  vpc: TestVpc
  cloud: FakeCloud
  app: TestHost
  github: GitHubServer
  /** The seed commit on the repository's default branch. */
  seedCommit: string
}

export async function startStack(
  root: string,
  teardown: Teardown,
  progress: (text: string) => void
): Promise<Stack> {
  const moto = await startMoto()
  teardown.add('moto server', () => moto.stop())
  progress(`moto server (EC2 and SSM API) on ${moto.url}`)

  const vpc = await moto.createTestVpc({ octet: OCTET })
  progress(
    `VPC ${vpc.vpcId} ${vpc.cidr}: subnet ${vpc.publicSubnetId} 10.${OCTET}.1.0/24, client group ${vpc.defaultGroupId} (the VPC's default group)`
  )

  // Every host this process has begun to start, including one still booting when Ctrl-C comes.
  teardown.add('Debian test hosts', () => stopAllTestHosts())
  const cloud = new FakeCloud(moto, { prefix: HOST_PREFIX })
  cloud.start()
  teardown.add('fake cloud', () => cloud.stop())

  // The two are independent; each is stopped in teardown even when the other fails to start.
  const fixture = readFileSync(join(root, '__tests__/fixtures/06-redis-configuration.config'))
  const [app, github] = await Promise.allSettled([
    startTestHost({
      name: `${HOST_PREFIX}-app`,
      address: APP_ADDRESS,
      prefix: 24,
      loginUser: 'ubuntu'
    }),
    GitHubServer.start({
      files: { [DEFAULT_CONFIG_PATH]: fixture, 'README.md': '# OpenEMR\n' }
    }).then(server => {
      teardown.add('local GitHub API', () => server.close())
      return server
    })
  ])
  if (app.status === 'rejected') throw app.reason
  if (github.status === 'rejected') throw github.reason
  cloud.addMember(vpc.defaultGroupId, app.value.address)
  progress(
    `OpenEMR app server booted at ${app.value.address} (Debian, systemd-nspawn), a member of ${vpc.defaultGroupId}`
  )
  const server = github.value
  const seedCommit = (await server.git.branchSha('master')) ?? ''
  progress(
    `local GitHub API on ${server.url}: ${server.owner}/${server.repo} at ${seedCommit.slice(0, 7)} with ${DEFAULT_CONFIG_PATH}`
  )
  return { moto, vpc, cloud, app: app.value, github: server, seedCommit }
}

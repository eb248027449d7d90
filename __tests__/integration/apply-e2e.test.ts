// The whole job, as users run it: the committed bundle under Node 24 against moto, with every
// instance moto launches booted as a real Debian host (OpenSSH, systemd, apt) at its private IP
// and its security groups enforced with nftables. Runs in order; each step builds on the last.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { CreateTagsCommand, ImportKeyPairCommand } from '@aws-sdk/client-ec2'
import { generateEd25519KeyPair } from '../../src/ssh/keys.js'
import { FakeCloud } from '../support/fake-cloud.js'
import { motoUnavailable, startMoto, type Moto, type TestVpc } from '../support/moto.js'
import { runAction, type ActionRun } from '../support/run-action.js'
import { startTestHost, testHostPrerequisites, type TestHost } from '../support/test-host.js'

const reason = motoUnavailable() ?? testHostPrerequisites()
const suite = reason ? describe.skip : describe
if (reason) console.warn(`Skipping the end-to-end apply tests: ${reason}`)

const PASSWORD = 'e2e-session-password-0123456789'

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** Speaks just enough RESP from inside a host, with bash's /dev/tcp (no client installed). */
async function redisFrom(host: TestHost, address: string, commands: string[][]): Promise<string> {
  // QUIT makes Redis close the connection, which ends the read.
  const format = [...commands, ['QUIT']]
    .map(c => `*${c.length}\\r\\n` + c.map(a => `$${a.length}\\r\\n${a}\\r\\n`).join(''))
    .join('')
  const script = `exec 3<>/dev/tcp/${address}/6379 || exit 7; printf ${quote(format)} >&3; timeout 5 cat <&3`
  const r = await host.exec(`bash -c ${quote(script)}`)
  if (r.code === 7) throw new Error(`no connection to ${address}:6379 from ${host.address}`)
  return r.stdout
}

/** Whether a TCP connection from the runner (the root namespace) opens within two seconds. */
async function runnerReaches(address: string, port: number): Promise<boolean> {
  const { Socket } = await import('node:net')
  return new Promise(resolve => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(port, address, () => done(true))
  })
}

suite('apply, plan and destroy end to end (bundle, Node 24, moto, real host)', () => {
  let moto: Moto
  let vpc: TestVpc
  let cloud: FakeCloud
  let app: TestHost
  const client = generateEd25519KeyPair('e2e-operator')
  let inputs: Record<string, string>
  let first: ActionRun

  beforeAll(async () => {
    moto = await startMoto()
    vpc = await moto.createTestVpc({ octet: 31 })
    await moto.ec2.send(
      new ImportKeyPairCommand({ KeyName: 'e2e', PublicKeyMaterial: Buffer.from(client.publicKey) })
    )
    cloud = new FakeCloud(moto, { keyPairs: { e2e: client.publicKey }, prefix: 'e2e' })
    cloud.start()
    // An OpenEMR application server: a member of the client group (the VPC's default group).
    app = await startTestHost({
      name: 'e2e-app',
      address: '10.31.1.200',
      prefix: 24,
      loginUser: 'ubuntu'
    })
    cloud.addMember(vpc.defaultGroupId, app.address)
    inputs = {
      'vpc-id': vpc.vpcId,
      'aws-region': moto.region,
      'subnet-id': vpc.publicSubnetId,
      'ssh-via': 'private',
      'key-name': 'e2e',
      'ssh-private-key': client.privateKey,
      'redis-password': PASSWORD,
      'timeout-seconds': '600'
    }
  }, 180_000)

  afterAll(async () => {
    await cloud?.stop()
    await app?.stop()
    await moto?.stop()
  }, 120_000)

  const run = (extra: Record<string, string> = {}, state?: Record<string, string>) =>
    runAction({ ...inputs, ...extra }, { env: moto.env, state })

  it('applies: Redis provisioned, verified, locked down, outputs right', async () => {
    first = await run()
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const ip = first.outputs['private-ip']
    expect(ip).toMatch(/^10\.31\.1\.\d+$/)
    expect(first.outputs['redis-endpoint']).toBe(`${ip}:6379`)
    expect(first.outputs['session-save-path']).toBe(`tcp://${ip}:6379`)
    expect(first.outputs['instance-id']).toMatch(/^i-/)
    expect(first.outputs['security-group-id']).toMatch(/^sg-/)
    expect(first.outputs.changed).toBe('true')
    expect(first.stdout).toContain('Verified a session round trip')
    // ::add-mask:: lines are how the runner learns what to hide; they are never shown.
    const shown = first.stdout.replace(/^::add-mask::.*$/gm, '')
    expect(shown).not.toContain(PASSWORD)
    expect(first.summary).not.toContain(PASSWORD)
    expect(shown).not.toContain(client.privateKey.split('\n')[1])
    expect(cloud.errors).toEqual([])
  }, 600_000)

  it('leaves Redis answering the client group only, bound to the private IP, SSH closed', async () => {
    const ip = first.outputs['private-ip']
    const host = await cloud.waitForHost(first.outputs['instance-id'])
    await cloud.synced()
    const answer = await redisFrom(app, ip, [
      ['AUTH', PASSWORD],
      ['SET', 'PHPREDIS_SESSION:e2e', 'data', 'EX', '60'],
      ['GET', 'PHPREDIS_SESSION:e2e']
    ])
    expect(answer).toBe('+OK\r\n+OK\r\n$4\r\ndata\r\n+OK\r\n')
    const listening = await host.exec("ss -Hltn '( sport = :6379 )' | awk '{print $4}' | sort")
    expect(listening.stdout.trim().split('\n').sort()).toEqual(
      [`${ip}:6379`, '127.0.0.1:6379'].sort()
    )
    expect(await runnerReaches(ip, 22)).toBe(false)
    expect(await runnerReaches(ip, 6379)).toBe(false)
  }, 60_000)

  it('re-runs without change and without an SSH session', async () => {
    const host = await cloud.waitForHost(first.outputs['instance-id'])
    const sessions = async () =>
      (
        await host.exec("journalctl -u ssh --no-pager | grep -c 'Accepted publickey' || true")
      ).stdout.trim()
    const before = await sessions()
    const again = await run()
    expect(again.code).toBe(0)
    expect(again.outputs.changed).toBe('false')
    expect(again.outputs['instance-id']).toBe(first.outputs['instance-id'])
    expect(again.outputs['security-group-id']).toBe(first.outputs['security-group-id'])
    expect(again.stdout).toContain('SSH stays closed')
    expect(await sessions()).toBe(before)
  }, 120_000)

  it('plans without changing anything in moto', async () => {
    const before = await moto.stateSnapshot()
    const planned = await run({ mode: 'plan', 'redis-maxmemory': '256mb' })
    expect(planned.code).toBe(0)
    expect(planned.stdout).toMatch(/re-provision Redis/)
    expect(planned.outputs.changed).toBe('true')
    expect(await moto.stateSnapshot()).toEqual(before)
  }, 60_000)

  it('refuses a host key that does not match the pin, and leaves SSH closed', async () => {
    const wrong = generateEd25519KeyPair('impostor')
    await moto.ec2.send(
      new CreateTagsCommand({
        Resources: [first.outputs['instance-id']],
        Tags: [{ Key: 'openemr-redis:host-key', Value: wrong.fingerprint }]
      })
    )
    const refused = await run({ 'redis-maxmemory': '256mb' })
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(/host key/i)
    expect(refused.stdout).toContain(wrong.fingerprint)
    await cloud.synced()
    expect(await runnerReaches(first.outputs['private-ip'], 22)).toBe(false)
    // The post step finds nothing left to close.
    const post = await run({}, { ...refused.state, isPost: 'true' })
    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(/already closed|nothing to close/)
  }, 180_000)

  it('destroys everything, and a second destroy is a no-op', async () => {
    const gone = await run({ mode: 'destroy' })
    expect(gone.code).toBe(0)
    expect(gone.outputs.changed).toBe('true')
    expect(gone.summary).toContain(`terminated instance ${first.outputs['instance-id']}`)
    const again = await run({ mode: 'destroy' })
    expect(again.code).toBe(0)
    expect(again.outputs.changed).toBe('false')
  }, 180_000)
})

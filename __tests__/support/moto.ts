// moto server as the EC2 and SSM stand-in: spawned on a free loopback port by the tests
// themselves, reset between tests, stopped by pid. It sets no process-wide environment; the
// caller applies `env` (useEnv below) so the code under test reaches moto through the SDK's
// own AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_SSM, as in production.
//
// moto 5.2 quirks that tests (and the orchestration they check) must allow for:
// - State changes are instant: RunInstances answers pending, the next DescribeInstances says
//   running; StopInstances answers stopped at once. No eventual consistency: a resource is
//   visible to every call the moment its create returns (`*.NotFound` never happens spuriously).
// - ClientToken is recorded but not idempotent: a repeated RunInstances with the same token
//   launches a second instance. DescribeInstances filtered by client-token answers HTTP 500.
// - DeleteSecurityGroup succeeds while an instance still uses the group (no
//   DependencyViolation). A terminated instance keeps its network interface listed unless the
//   interface was launched with DeleteOnTermination (launchInstance sets it).
// - TerminateInstances on an instance that is already terminated fails with
//   InvalidNetworkInterfaceID.NotFound when its interface was deleted with it (AWS answers
//   success): terminate only live instances (findInstances lists only those).
// - ReleaseAddress succeeds on an associated address (AWS answers InvalidIPAddress.InUse), and
//   AssociateAddress with AllowReassociation=false re-associates an address already associated
//   with the same instance (new association id) instead of answering Resource.AlreadyAssociated.
//   An unassociated address carries InstanceId/NetworkInterfaceId as empty strings.
// - An instance launched through NetworkInterfaces (launchInstance does, to decide the public
//   address) lists no SecurityGroups of its own: its groups are only on the interface, so the
//   DescribeInstances filters instance.group-id / group-id do not find it and
//   network-interface.group-id answers HTTP 500. Read groups from NetworkInterfaces[].Groups
//   (InstanceSummary.groupIds does) or ask DescribeNetworkInterfaces with group-id.
// - Elastic IPs are drawn from 127.0.0.0/8 — loopback. Never connect to them.
// - GetConsoleOutput answers a fixed plain-text (not base64) boot log.
// - Private addresses are handed out in order from the subnet's .4.
// - The default VPC security group has no ingress rules (AWS adds a self-reference); a new VPC's
//   main route table has only the local route.
// - The Canonical SSM parameter is not served and PutParameter under /aws is refused, so
//   moto-server.py (a thin launcher around moto.server's main) serves it from a file.
// - MOTO_AMIS_PATH replaces moto's whole image catalogue in every region (moto-images.ts), and
//   moto forces owner alias "amazon" on every seeded image.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  EC2Client
} from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { IMAGES, PUBLIC_PARAMETERS } from './moto-images.js'

const LAUNCHER = fileURLToPath(new URL('./moto-server.py', import.meta.url))
const PYTHON = process.env.MOTO_PYTHON || 'python3'
const START_TIMEOUT_MS = 30_000
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' }

let availability: string | undefined | null = null

/** Why moto cannot run here (to print with the skip), or undefined when it can. */
export function motoUnavailable(): string | undefined {
  if (availability !== null) return availability
  const probe = spawnSync(PYTHON, ['-c', 'import moto.server, moto.ec2, moto.ssm'], {
    encoding: 'utf8',
    timeout: 30_000
  })
  availability =
    probe.error !== undefined
      ? `${PYTHON} is not available (${probe.error.message}); install Python 3 and moto[server]`
      : probe.status !== 0
        ? `moto is not importable by ${PYTHON}: ${probe.stderr.trim().split('\n').pop()}; pip install 'moto[server]'`
        : undefined
  return availability
}

export interface TestVpc {
  vpcId: string
  cidr: string
  /** Routed 0.0.0.0/0 → internet gateway; in AZ a, c, … */
  publicSubnetIds: string[]
  /** Only the local route (the VPC's main table); in AZ b, d, … */
  privateSubnetIds: string[]
  publicSubnetId: string
  privateSubnetId: string
  internetGatewayId: string
  publicRouteTableId: string
  defaultGroupId: string
}

export interface TestVpcOptions {
  /** Second octet of 10.x.0.0/16; default 20. */
  octet?: number
  publicSubnets?: number
  privateSubnets?: number
}

export interface Moto {
  url: string
  region: string
  /** Variables that route the SDK's default clients to this moto, with fake credentials. */
  env: Record<string, string>
  /** Clients of the harness itself (for seeding and checking), not of the code under test. */
  ec2: EC2Client
  ssm: SSMClient
  /** POST /moto-api/reset: every account and region back to the seeded start (images, parameters). */
  reset(): Promise<void>
  /** GET /moto-api/data.json, as moto serves it. */
  dataJson(): Promise<string>
  /**
   * data.json without what read-only calls add: equal text means no resource changed. (moto
   * lists a service's empty model lists once a call first imports it — DescribeRouteTables
   * brings elb and elbv2 — and loads public SSM parameters into the store on first read.)
   */
  stateSnapshot(): Promise<string>
  /** Replaces the public /aws/service/canonical parameters; resets moto to apply them. */
  setPublicParameters(parameters: Record<string, string>): Promise<void>
  createTestVpc(options?: TestVpcOptions): Promise<TestVpc>
  stop(): Promise<void>
}

export interface StartMotoOptions {
  region?: string
  /** Default: Canonical's parameters for both architectures (moto-images.ts). */
  publicParameters?: Record<string, string>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const gone = exited(child)
  process.kill(child.pid, 'SIGTERM')
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL')
  }, 5000)
  await gone
  clearTimeout(timer)
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/moto-api/data.json`, {
      signal: AbortSignal.timeout(2000)
    })
    await response.arrayBuffer()
    return response.ok
  } catch {
    return false
  }
}

/** Longer than any answer moto gives on a busy machine, far shorter than a test's timeout. */
const MOTO_ANSWER_MS = 30_000

async function spawnMoto(
  env: NodeJS.ProcessEnv
): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const child = spawn(PYTHON, [LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    // Werkzeug logs every request; keep only the tail for error messages, never let the pipe fill.
    let tail = ''
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-4000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const log = () => tail
    const started = Date.now()
    while (Date.now() - started < START_TIMEOUT_MS) {
      if (child.exitCode !== null || child.signalCode !== null) break
      if (await answers(url)) return { child, url, log }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    await stopChild(child)
    // Another process may have taken the port between probe and bind: try a new one.
    if (attempt >= 3)
      throw new Error(`moto server did not start (3 attempts). Its last output:\n${tail}`)
  }
}

/** Starts moto with Ubuntu images and Canonical's SSM parameters seeded. */
export async function startMoto(options: StartMotoOptions = {}): Promise<Moto> {
  const region = options.region ?? 'us-east-1'
  const dir = mkdtempSync(join(tmpdir(), 'openemr-redis-moto-'))
  const amisPath = join(dir, 'amis.json')
  const parametersPath = join(dir, 'public-parameters.json')
  writeFileSync(amisPath, JSON.stringify(Object.values(IMAGES), null, 1))
  const seededParameters = JSON.stringify(options.publicParameters ?? PUBLIC_PARAMETERS)
  writeFileSync(parametersPath, seededParameters)

  const { child, url } = await spawnMoto({
    ...process.env,
    MOTO_AMIS_PATH: amisPath,
    MOTO_PUBLIC_PARAMETERS_PATH: parametersPath,
    // Nothing of the caller's AWS setup may leak into moto's answers.
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: region
  }).catch(error => {
    rmSync(dir, { recursive: true, force: true })
    throw error
  })

  // A moto that stops answering must fail the test at once, not hold it until its timeout
  // (the SDK waits forever by default).
  const clientConfig = {
    region,
    endpoint: url,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: MOTO_ANSWER_MS }
  }
  const ec2 = new EC2Client(clientConfig)
  const ssm = new SSMClient(clientConfig)

  const post = async (path: string) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      signal: AbortSignal.timeout(MOTO_ANSWER_MS)
    })
    await response.arrayBuffer()
    if (!response.ok) throw new Error(`moto ${path} answered HTTP ${response.status}`)
  }

  const moto: Moto = {
    url,
    region,
    env: {
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ENDPOINT_URL_SSM: url,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: '',
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EC2_METADATA_DISABLED: 'true'
    },
    ec2,
    ssm,
    async reset() {
      writeFileSync(parametersPath, seededParameters)
      await post('/moto-api/reset')
    },
    async dataJson() {
      const response = await fetch(`${url}/moto-api/data.json`, {
        signal: AbortSignal.timeout(MOTO_ANSWER_MS)
      })
      return response.text()
    },
    async stateSnapshot() {
      return canonicalState(await this.dataJson())
    },
    async setPublicParameters(parameters) {
      writeFileSync(parametersPath, JSON.stringify(parameters))
      await post('/moto-api/reset')
    },
    createTestVpc: vpcOptions => createTestVpc(ec2, region, vpcOptions),
    async stop() {
      ec2.destroy()
      ssm.destroy()
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return moto
}

type ModelData = Record<string, Record<string, unknown[]>>

/** See Moto.stateSnapshot. */
export function canonicalState(dataJson: string): string {
  const data = JSON.parse(dataJson) as ModelData
  const kept: ModelData = {}
  for (const service of Object.keys(data).sort()) {
    const models: Record<string, unknown[]> = {}
    for (const model of Object.keys(data[service]).sort()) {
      let items = data[service][model]
      if (service === 'ssm' && model === 'Parameter')
        items = items.filter(p => !String((p as { name?: unknown }).name).startsWith('/aws/'))
      if (items.length > 0) models[model] = items
    }
    if (Object.keys(models).length > 0) kept[service] = models
  }
  return JSON.stringify(kept)
}

/**
 * A VPC 10.<octet>.0.0/16 like the guide's openemr-vpc: public subnets (10.<octet>.1.0/24, …)
 * routed to an attached internet gateway through their own route table, and private subnets
 * (10.<octet>.101.0/24, …) left on the main table with only the local route.
 */
export async function createTestVpc(
  ec2: EC2Client,
  region: string,
  { octet = 20, publicSubnets = 1, privateSubnets = 1 }: TestVpcOptions = {}
): Promise<TestVpc> {
  const cidr = `10.${octet}.0.0/16`
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc?.VpcId ?? ''
  const internetGatewayId =
    (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway?.InternetGatewayId ?? ''
  await ec2.send(
    new AttachInternetGatewayCommand({ InternetGatewayId: internetGatewayId, VpcId: vpcId })
  )
  const publicRouteTableId =
    (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable?.RouteTableId ?? ''
  await ec2.send(
    new CreateRouteCommand({
      RouteTableId: publicRouteTableId,
      DestinationCidrBlock: '0.0.0.0/0',
      GatewayId: internetGatewayId
    })
  )
  const zones = 'abcdef'
  const subnet = async (third: number, zone: string) =>
    (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: `10.${octet}.${third}.0/24`,
          AvailabilityZone: `${region}${zone}`
        })
      )
    ).Subnet?.SubnetId ?? ''
  const publicSubnetIds: string[] = []
  for (let i = 0; i < publicSubnets; i++) {
    const id = await subnet(1 + i, zones[(2 * i) % zones.length])
    await ec2.send(
      new AssociateRouteTableCommand({ RouteTableId: publicRouteTableId, SubnetId: id })
    )
    publicSubnetIds.push(id)
  }
  const privateSubnetIds: string[] = []
  for (let i = 0; i < privateSubnets; i++)
    privateSubnetIds.push(await subnet(101 + i, zones[(2 * i + 1) % zones.length]))
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: ['default'] }
      ]
    })
  )
  return {
    vpcId,
    cidr,
    publicSubnetIds,
    privateSubnetIds,
    publicSubnetId: publicSubnetIds[0] ?? '',
    privateSubnetId: privateSubnetIds[0] ?? '',
    internetGatewayId,
    publicRouteTableId,
    defaultGroupId: groups.SecurityGroups?.[0]?.GroupId ?? ''
  }
}

/** Sets variables for the code under test; the returned function restores the previous values. */
export function useEnv(env: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(env).map(k => [k, process.env[k]]))
  for (const [k, v] of Object.entries(env)) process.env[k] = v
  return () => {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

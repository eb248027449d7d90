import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { DescribeVpcsCommand, RunInstancesCommand } from '@aws-sdk/client-ec2'
import { GetParameterCommand } from '@aws-sdk/client-ssm'
import {
  actionName,
  createAwsClients,
  isMutating,
  MAX_ATTEMPTS,
  type AwsService
} from '../../src/aws/client.js'

// A loopback server standing in for both endpoints: proves the SDK's standard variables route
// the clients, and lets a test make the first answer fail to watch retries.
let server: Server
let url = ''
const received: { target: string; body: string }[] = []
let failFirst = 0
let failCode = 'Unavailable'
let failStatus = 503

const EC2_OK =
  '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcSet/></DescribeVpcsResponse>'

function read(request: IncomingMessage): Promise<string> {
  return new Promise(resolve => {
    let body = ''
    request.on('data', c => (body += c))
    request.on('end', () => resolve(body))
  })
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await read(request)
    const target = String(request.headers['x-amz-target'] ?? '')
    received.push({ target, body })
    if (failFirst > 0) {
      failFirst--
      response.writeHead(failStatus, { 'content-type': 'text/xml' })
      response.end(
        `<Response><Errors><Error><Code>${failCode}</Code><Message>try again</Message></Error></Errors><RequestID>r</RequestID></Response>`
      )
      return
    }
    if (target.startsWith('AmazonSSM.')) {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      response.end(JSON.stringify({ Parameter: { Name: 'p', Value: 'ami-1' } }))
      return
    }
    response.writeHead(200, { 'content-type': 'text/xml' })
    response.end(EC2_OK)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
})

afterAll(async () => {
  await new Promise(resolve => server.close(resolve))
})

const saved = { ...process.env }
afterEach(() => {
  process.env = { ...saved }
  received.length = 0
  failFirst = 0
  failCode = 'Unavailable'
  failStatus = 503
})

function routeToServer(): void {
  process.env.AWS_ENDPOINT_URL_EC2 = url
  process.env.AWS_ENDPOINT_URL_SSM = url
  process.env.AWS_ACCESS_KEY_ID = 'testing'
  process.env.AWS_SECRET_ACCESS_KEY = 'testing'
  delete process.env.AWS_SESSION_TOKEN
  delete process.env.AWS_PROFILE
}

describe('createAwsClients', () => {
  it('uses the region, the adaptive retry mode and eight attempts', async () => {
    const { ec2, ssm } = createAwsClients('eu-west-2')
    for (const client of [ec2, ssm]) {
      expect(await client.config.region()).toBe('eu-west-2')
      expect(await client.config.maxAttempts()).toBe(MAX_ATTEMPTS)
      const strategy = (await client.config.retryStrategy()) as { mode?: string }
      expect(strategy.mode).toBe('adaptive')
    }
    expect(MAX_ATTEMPTS).toBe(8)
  })

  it('honours AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_SSM natively', async () => {
    routeToServer()
    const { ec2, ssm } = createAwsClients('us-east-1')
    await ec2.send(new DescribeVpcsCommand({}))
    await ssm.send(new GetParameterCommand({ Name: 'p' }))
    expect(received.map(r => r.target || new URLSearchParams(r.body).get('Action'))).toEqual([
      'DescribeVpcs',
      'AmazonSSM.GetParameter'
    ])
  })

  it('reports every command once, by action name, even when the SDK retries it', async () => {
    routeToServer()
    const seen: [AwsService, string][] = []
    const { ec2, ssm } = createAwsClients('us-east-1', {
      onCall: (service, action) => seen.push([service, action])
    })
    failFirst = 1
    await ec2.send(new DescribeVpcsCommand({}))
    await ssm.send(new GetParameterCommand({ Name: 'p' }))
    expect(received).toHaveLength(3)
    expect(seen).toEqual([
      ['ec2', 'DescribeVpcs'],
      ['ssm', 'GetParameter']
    ])
  })

  it('reports a command that fails', async () => {
    routeToServer()
    const seen: string[] = []
    const { ec2 } = createAwsClients('us-east-1', {
      onCall: (_s, action) => seen.push(action),
      maxAttempts: 1
    })
    failFirst = 1
    await expect(ec2.send(new DescribeVpcsCommand({}))).rejects.toThrow()
    expect(seen).toEqual(['DescribeVpcs'])
  })
})

describe('retries', () => {
  it('retries a server error', async () => {
    routeToServer()
    const { ec2 } = createAwsClients('us-east-1')
    failFirst = 2
    failCode = 'InternalError'
    failStatus = 500
    const answer = await ec2.send(new DescribeVpcsCommand({}))
    expect(answer.$metadata.attempts).toBe(3)
    expect(received).toHaveLength(3)
  })

  it('does not retry InsufficientInstanceCapacity, which comes as HTTP 500', async () => {
    routeToServer()
    const { ec2 } = createAwsClients('us-east-1')
    failFirst = 5
    failCode = 'InsufficientInstanceCapacity'
    failStatus = 500
    const error = await ec2
      .send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1, MaxCount: 1 }))
      .catch(e => e)
    expect(error.name).toBe('InsufficientInstanceCapacity')
    expect(error.$metadata.attempts).toBe(1)
    expect(received).toHaveLength(1)
  })
})

describe('actionName and isMutating', () => {
  it('strips the Command suffix', () => {
    expect(actionName('RunInstancesCommand')).toBe('RunInstances')
  })

  it.each([
    ['DescribeInstances', false],
    ['GetParameter', false],
    ['GetConsoleOutput', false],
    ['ListTagsForResource', false],
    ['RunInstances', true],
    ['CreateTags', true],
    ['AuthorizeSecurityGroupIngress', true],
    ['Describer', true]
  ])('%s mutating: %s', (action, mutating) => {
    expect(isMutating(action)).toBe(mutating)
  })
})

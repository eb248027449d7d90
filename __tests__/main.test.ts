import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import * as core from '../__fixtures__/core.js'
import { BAD_INPUTS, VALID_INPUTS } from './support/bad-inputs.js'

const getOctokit = jest.fn(() => {
  throw new Error('GitHub must not be called on bad input')
})
jest.unstable_mockModule('@actions/core', () => core)
jest.unstable_mockModule('@actions/github', () => ({ getOctokit, context: {} }))

const { run } = await import('../src/main.js')

const ec2 = mockClient(EC2Client)
const ssm = mockClient(SSMClient)
const fetchSpy = jest.spyOn(globalThis, 'fetch')

beforeAll(() => {
  fetchSpy.mockRejectedValue(new Error('network must not be used on bad input'))
})
afterAll(() => {
  fetchSpy.mockRestore()
  ec2.restore()
  ssm.restore()
})
beforeEach(() => {
  core.reset()
  ec2.reset()
  ssm.reset()
})

function expectNothingCalled(): void {
  expect(ec2.calls()).toHaveLength(0)
  expect(ssm.calls()).toHaveLength(0)
  expect(getOctokit).not.toHaveBeenCalled()
  expect(fetchSpy).not.toHaveBeenCalled()
}

describe('run() with bad input', () => {
  it.each(BAD_INPUTS)('%s: names the input and calls nothing', async (_n, bad, input, message) => {
    Object.assign(core.inputs, VALID_INPUTS, bad)
    await run()
    const errors = core.error.mock.calls.filter(([, props]) => props?.title === `Input ${input}`)
    expect(errors).toHaveLength(1)
    expect(String(errors[0][0])).toMatch(message)
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/nothing was changed/))
    expectNothingCalled()
  })

  it('masks every secret input before anything is logged', async () => {
    const password = 'p'.repeat(12)
    Object.assign(core.inputs, { 'redis-password': password, 'github-token': 'ghs_token123' })
    await run()
    expect(core.secrets).toEqual(expect.arrayContaining([password, 'ghs_token123']))
    const firstLog = Math.min(
      ...[core.error, core.setFailed, core.info].flatMap(f => f.mock.invocationCallOrder)
    )
    expect(Math.max(...core.setSecret.mock.invocationCallOrder)).toBeLessThan(firstLog)
    expect(core.logs.join('\n')).not.toContain(password)
    expectNothingCalled()
  })

  it('masks a private key line by line', async () => {
    const key = '-----BEGIN KEY-----\nAAAAline-one-secret\nBBBBline-two-secret\n-----END KEY-----'
    Object.assign(core.inputs, VALID_INPUTS, { 'ssh-private-key': key })
    await run()
    expect(core.secrets).toEqual(
      expect.arrayContaining([key, 'AAAAline-one-secret', 'BBBBline-two-secret'])
    )
  })

  it('marks the main step so the bundle runs post next time', async () => {
    await run()
    expect(core.state.isPost).toBe('true')
  })
})

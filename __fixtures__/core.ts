// A typed stand-in for @actions/core: records inputs, outputs, logs and state in memory so
// unit tests can drive run() and read what it reported.
import { jest } from '@jest/globals'
import type * as realCore from '@actions/core'

export const inputs: Record<string, string> = {}
export const outputs: Record<string, string> = {}
export const state: Record<string, string> = {}
export const logs: string[] = []
export const secrets: string[] = []

export function reset(): void {
  for (const r of [inputs, outputs, state]) for (const k of Object.keys(r)) delete r[k]
  logs.length = 0
  secrets.length = 0
  jest.clearAllMocks()
}

const log = (kind: string) => (message: string | Error) => {
  logs.push(`${kind}: ${message instanceof Error ? message.message : message}`)
}

export const getInput = jest.fn<typeof realCore.getInput>((name: string) => inputs[name] ?? '')
export const setOutput = jest.fn<typeof realCore.setOutput>((name, value) => {
  outputs[name] = String(value)
})
export const setSecret = jest.fn<typeof realCore.setSecret>(value => {
  secrets.push(value)
})
export const saveState = jest.fn<typeof realCore.saveState>((name, value) => {
  state[name] = String(value)
})
export const getState = jest.fn<typeof realCore.getState>(name => state[name] ?? '')
export const setFailed = jest.fn<typeof realCore.setFailed>(log('failed'))
export const error = jest.fn<typeof realCore.error>(log('error'))
export const warning = jest.fn<typeof realCore.warning>(log('warning'))
export const notice = jest.fn<typeof realCore.notice>(log('notice'))
export const info = jest.fn<typeof realCore.info>(log('info'))
export const debug = jest.fn<typeof realCore.debug>(log('debug'))
export const startGroup = jest.fn<typeof realCore.startGroup>()
export const endGroup = jest.fn<typeof realCore.endGroup>()
export const isDebug = jest.fn<typeof realCore.isDebug>(() => false)

// What a request to the fault proxy asks for: which service and action, in which protocol, and
// (for EC2's query protocol) its form parameters, with helpers to take filters out of them.
import type { IncomingHttpHeaders } from 'node:http'
import type { Protocol } from './fault-proxy-errors.js'

export interface AwsCall {
  /** The signing name from the credential scope, e.g. 'ec2', 'ssm'. */
  service: string
  action: string
  protocol: Protocol
  /** Form parameters of a query-protocol call (EC2); undefined for JSON calls. */
  params?: URLSearchParams
}

const CREDENTIAL_SCOPE = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/

/** undefined for anything that is not an AWS API call (moto's own /moto-api/, health checks). */
export function identifyCall(
  method: string | undefined,
  headers: IncomingHttpHeaders,
  body: Buffer
): AwsCall | undefined {
  if (method !== 'POST') return undefined
  const service = CREDENTIAL_SCOPE.exec(String(headers.authorization ?? ''))?.[1]
  const target = headers['x-amz-target']
  if (typeof target === 'string' && target.includes('.')) {
    return {
      service: service ?? target.split('.')[0].toLowerCase(),
      action: target.slice(target.lastIndexOf('.') + 1),
      protocol: 'json'
    }
  }
  const contentType = String(headers['content-type'] ?? '')
  if (!contentType.startsWith('application/x-www-form-urlencoded')) return undefined
  const params = new URLSearchParams(body.toString('utf8'))
  const action = params.get('Action')
  if (!action) return undefined
  return { service: service ?? 'ec2', action, protocol: 'query', params }
}

export function encodeForm(params: URLSearchParams): Buffer {
  return Buffer.from(params.toString(), 'utf8')
}

const FILTER_KEY = /^Filter\.(\d+)\.(Name|Value\.(\d+))$/

export interface Filter {
  name: string
  values: string[]
}

/** The Filter.N.Name / Filter.N.Value.M parameters as a list, in N order. */
export function filters(params: URLSearchParams): Filter[] {
  const byIndex = new Map<number, Filter>()
  for (const [key, value] of params) {
    const m = FILTER_KEY.exec(key)
    if (!m) continue
    const f = byIndex.get(Number(m[1])) ?? { name: '', values: [] }
    if (m[2] === 'Name') f.name = value
    else f.values.push(value)
    byIndex.set(Number(m[1]), f)
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, f]) => f)
}

/**
 * Removes the filters named `names` and renumbers the rest from 1, as EC2 lists must be
 * contiguous. Returns the new parameters and the filters taken out.
 */
export function takeFilters(
  params: URLSearchParams,
  names: readonly string[]
): { params: URLSearchParams; taken: Filter[] } {
  const all = filters(params)
  const taken = all.filter(f => names.includes(f.name))
  if (taken.length === 0) return { params, taken }
  const out = new URLSearchParams()
  for (const [key, value] of params) if (!FILTER_KEY.test(key)) out.append(key, value)
  all
    .filter(f => !names.includes(f.name))
    .forEach((f, i) => {
      out.append(`Filter.${i + 1}.Name`, f.name)
      f.values.forEach((v, j) => out.append(`Filter.${i + 1}.Value.${j + 1}`, v))
    })
  return { params: out, taken }
}

/** Values of a numbered list parameter, e.g. list(params, 'InstanceId') → InstanceId.1, .2… */
export function list(params: URLSearchParams, name: string): string[] {
  const out: string[] = []
  for (let i = 1; params.has(`${name}.${i}`); i++) out.push(params.get(`${name}.${i}`) ?? '')
  return out
}

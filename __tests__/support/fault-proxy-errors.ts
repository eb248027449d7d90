// Injected errors, written the way each AWS protocol writes them so the SDK turns them into an
// exception whose `name` is the code. EC2 (query protocol): the SDK's AwsQueryProtocol reads
// Errors.Error.Code from <Response><Errors><Error>…</Error></Errors><RequestID>…</RequestID>
// </Response> for any status ≥ 300 (moto answers the same shape). SSM (JSON 1.1): `__type`.
import { randomUUID } from 'node:crypto'

export type Protocol = 'query' | 'json'

export interface InjectedError {
  code: string
  status: number
  message: string
}

// Status and message real EC2 uses for the codes tests inject most; anything else is a 400.
const KNOWN: Record<string, { status: number; message: (subject?: string) => string }> = {
  RequestLimitExceeded: { status: 503, message: () => 'Request limit exceeded.' },
  ThrottlingException: { status: 400, message: () => 'Rate exceeded' },
  InternalError: { status: 500, message: () => 'An internal error has occurred' },
  InternalFailure: { status: 500, message: () => 'An internal error has occurred' },
  Unavailable: { status: 503, message: () => 'The server is overloaded' },
  ServiceUnavailable: { status: 503, message: () => 'Service Unavailable' },
  InsufficientInstanceCapacity: {
    status: 500,
    message: () =>
      'We currently do not have sufficient capacity in the Availability Zone you requested.'
  },
  'InvalidIPAddress.InUse': {
    status: 400,
    message: s => (s ? `Address ${s} is in use.` : 'The address is in use.')
  },
  'InvalidInstanceID.NotFound': {
    status: 400,
    message: s => `The instance ID '${s}' does not exist`
  },
  'InvalidGroup.NotFound': {
    status: 400,
    message: s => `The security group '${s}' does not exist`
  },
  'InvalidAllocationID.NotFound': {
    status: 400,
    message: s => `The allocation ID '${s}' does not exist`
  },
  IdempotentParameterMismatch: {
    status: 400,
    message: () =>
      'The request uses the same client token as a previous, but non-identical request.'
  },
  DependencyViolation: { status: 400, message: s => `resource ${s} has a dependent object` },
  IncorrectInstanceState: {
    status: 400,
    message: s => `The pending instance '${s}' is not in a valid state for this operation.`
  }
}

export function injectedError(
  code: string,
  options: { status?: number; message?: string; subject?: string } = {}
): InjectedError {
  const known = KNOWN[code]
  return {
    code,
    status: options.status ?? known?.status ?? 400,
    message: options.message ?? known?.message(options.subject) ?? `Injected ${code}`
  }
}

/** The throttling error of a protocol: EC2 and SSM name it differently. */
export function throttlingError(protocol: Protocol): InjectedError {
  return injectedError(protocol === 'query' ? 'RequestLimitExceeded' : 'ThrottlingException')
}

export interface RenderedResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function renderError(protocol: Protocol, error: InjectedError): RenderedResponse {
  const requestId = randomUUID()
  if (protocol === 'json') {
    return {
      status: error.status,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': error.code
      },
      body: Buffer.from(JSON.stringify({ __type: error.code, message: error.message }))
    }
  }
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${escapeXml(error.code)}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error></Errors>` +
    `<RequestID>${requestId}</RequestID></Response>`
  return {
    status: error.status,
    headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId },
    body: Buffer.from(xml)
  }
}

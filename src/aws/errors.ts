// The SDK v3 exposes an EC2/SSM error code as the exception's `name` (EC2's query protocol
// also copies it to `Code`); every module matches on codes, never on messages.

/** The AWS error code of an SDK exception, or undefined for anything else. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { Code, name } = error as { Code?: unknown; name?: unknown }
  if (typeof Code === 'string' && Code !== '') return Code
  if (typeof name === 'string' && name !== '' && name !== 'Error') return name
  return undefined
}

export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  const code = errorCode(error)
  return code !== undefined && codes.includes(code)
}

/**
 * A resource that is absent or not yet visible: InvalidInstanceID.NotFound,
 * InvalidGroup.NotFound, InvalidAllocationID.NotFound, … InvalidPermission.NotFound is about
 * a rule, not a resource, and means "already revoked".
 */
export function isNotFound(error: unknown): boolean {
  const code = errorCode(error) ?? ''
  return /\.NotFound$/.test(code) && code !== 'InvalidPermission.NotFound'
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

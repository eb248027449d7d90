import { describe, expect, it } from '@jest/globals'
import { errorCode, hasErrorCode, isNotFound } from '../../src/aws/errors.js'
import { awsError } from './aws-errors.js'

describe('errors', () => {
  it('reads the code of an SDK exception', () => {
    expect(errorCode(awsError('InvalidVpcID.NotFound'))).toBe('InvalidVpcID.NotFound')
    expect(errorCode(Object.assign(new Error('x'), { Code: 'DependencyViolation' }))).toBe(
      'DependencyViolation'
    )
  })

  it('has no code for plain errors and non-errors', () => {
    expect(errorCode(new Error('x'))).toBeUndefined()
    expect(errorCode('InvalidVpcID.NotFound')).toBeUndefined()
    expect(errorCode(undefined)).toBeUndefined()
  })

  it('matches one of several codes', () => {
    expect(
      hasErrorCode(awsError('Unsupported'), 'InsufficientInstanceCapacity', 'Unsupported')
    ).toBe(true)
    expect(hasErrorCode(awsError('Unsupported'), 'InvalidParameterValue')).toBe(false)
  })

  it('counts resource NotFound codes but not a missing rule', () => {
    expect(isNotFound(awsError('InvalidInstanceID.NotFound'))).toBe(true)
    expect(isNotFound(awsError('InvalidAllocationID.NotFound'))).toBe(true)
    expect(isNotFound(awsError('InvalidPermission.NotFound'))).toBe(false)
    expect(isNotFound(awsError('NotFoundish'))).toBe(false)
  })
})

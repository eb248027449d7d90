// Errors shaped as the SDK throws them for EC2 and SSM answers: the code is the exception's name.
import { EC2ServiceException } from '@aws-sdk/client-ec2'

export function awsError(code: string, message = `${code} (test)`): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: 'client', $metadata: {}, message })
}

import type { EC2Client } from '@aws-sdk/client-ec2'
import type { SSMClient } from '@aws-sdk/client-ssm'

/** The client's region, for messages that tell the user where something was looked for. */
export async function regionOf(client: EC2Client | SSMClient): Promise<string> {
  const region: unknown = client.config.region
  if (typeof region === 'function') return String(await region())
  return String(region ?? 'the configured region')
}

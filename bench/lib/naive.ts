// The baseline: the same launch waited for as a naive script would, with the SDK's own waiter
// at its defaults (waitUntilInstanceRunning: minDelay 15 s, maxDelay 120 s, an immediate first
// check, then pauses drawn between minDelay and a doubling ceiling).
import {
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning
} from '@aws-sdk/client-ec2'
import { IMAGES } from '../../__tests__/support/moto-images.js'

export interface NaiveLaunch {
  instanceId: string
  /** Epoch ms: RunInstances answered, and the waiter returned. */
  launchedAt: number
  movedOnAt: number
}

export async function naiveLaunch(options: {
  endpoint: string
  region: string
  subnetId: string
  groupId: string
}): Promise<NaiveLaunch> {
  const ec2 = new EC2Client({
    region: options.region,
    endpoint: options.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }
  })
  try {
    const answer = await ec2.send(
      new RunInstancesCommand({
        ImageId: IMAGES.nobleAmd64.ami_id,
        InstanceType: 't3.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: options.subnetId,
        SecurityGroupIds: [options.groupId]
      })
    )
    const launchedAt = Date.now()
    const instanceId = answer.Instances?.[0]?.InstanceId ?? ''
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 300 }, { InstanceIds: [instanceId] })
    return { instanceId, launchedAt, movedOnAt: Date.now() }
  } finally {
    ec2.destroy()
  }
}

/** Terminates straight in moto (not through the proxy: no modelled shutting-down to sit out). */
export async function removeNaive(ec2: EC2Client, instanceId: string): Promise<void> {
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
}

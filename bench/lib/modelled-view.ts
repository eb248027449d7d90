// The fake cloud reads moto directly, and moto says "running" the moment RunInstances returns,
// so its hosts would boot (and sshd answer) while the fault proxy still tells the action the
// instance is pending — an order EC2 never shows. This view gives the fake cloud moto's
// answers with the proxy's modelled state applied, so a host boots only once its instance is
// running in the model, as on EC2 (where sshd answers some time after that).
import { EC2Client, type DescribeInstancesCommandOutput } from '@aws-sdk/client-ec2'
import type { FaultProxy } from '../../__tests__/support/fault-proxy.js'
import type { Moto } from '../../__tests__/support/moto.js'

// moto holds a new instance a moment before the proxy has noted its pending window: an
// instance this young that the proxy has not described yet counts as pending.
const UNNOTED_PENDING_MS = 10_000

export class ModelledStates {
  /** Instance id → when it becomes running in the model; kept across proxy resets. */
  private readonly runningAt = new Map<string, number>()

  constructor(private readonly proxy: FaultProxy) {}

  /** Takes in what the proxy knows now (call it before the proxy is reset). */
  note(): void {
    for (const m of this.proxy.readyMoments)
      if (m.state === 'running') this.runningAt.set(m.id, m.at)
  }

  pending(id: string, launchTime: Date | undefined, now = Date.now()): boolean {
    this.note()
    const at = this.runningAt.get(id)
    if (at !== undefined) return at > now
    return launchTime !== undefined && now - launchTime.getTime() < UNNOTED_PENDING_MS
  }

  /** A moto handle whose DescribeInstances shows the modelled states. */
  view(moto: Moto): Moto {
    const ec2 = new EC2Client({
      region: moto.region,
      endpoint: moto.url,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 1
    })
    ec2.middlewareStack.add(
      (next, context) => async args => {
        const result = await next(args)
        if (context.commandName !== 'DescribeInstancesCommand') return result
        const output = result.output as DescribeInstancesCommandOutput
        for (const reservation of output.Reservations ?? [])
          for (const instance of reservation.Instances ?? [])
            if (
              instance.State?.Name === 'running' &&
              this.pending(instance.InstanceId ?? '', instance.LaunchTime)
            )
              instance.State = { Name: 'pending', Code: 0 }
        return result
      },
      { step: 'initialize', name: 'benchModelledInstanceStates' }
    )
    return { ...moto, ec2 }
  }
}

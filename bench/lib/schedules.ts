// The same waits computed rather than measured, for pending times the bench cannot afford to sit
// through: a poller calls DescribeInstances (answered `latencyMs` later), pauses, and calls
// again, and moves on with the first answer given after the instance became running. Slack is
// that answer's moment minus the ready moment. The SDK waiter draws its pauses at random, so
// its numbers are a mean and a 90th percentile over many seeded draws.
import { seededRandom } from '../../__tests__/support/fault-proxy-rules.js'
import { mean, quantile } from './stats.js'

export type Pauses = (attempt: number, random: () => number) => number

/** src/aws/poll.ts: 200 ms growing by half to a cap (1 s by default). */
export const actionPauses =
  (firstMs = 200, capMs = 1000): Pauses =>
  attempt => {
    let pause = firstMs
    for (let i = 1; i < attempt; i++) pause = Math.min(capMs, Math.round(pause * 1.5))
    return pause
  }

/** @smithy/core's waiter poller (exponentialBackoffWithJitter) with the EC2 waiter defaults. */
export const sdkWaiterPauses =
  (minDelayS = 15, maxDelayS = 120): Pauses =>
  (attempt, random) => {
    const min = minDelayS * 1000
    const max = maxDelayS * 1000
    const ceiling = Math.log(max / min) / Math.log(2) + 1
    if (attempt > ceiling) return max
    const capped = Math.min(min * 2 ** (attempt - 1), max)
    return min + random() * (capped - min)
  }

export interface Outcome {
  slackMs: number
  calls: number
}

export function simulate(
  pendingMs: number,
  latencyMs: number,
  pauses: Pauses,
  random: () => number
): Outcome {
  let sentAt = 0
  for (let calls = 1; ; calls++) {
    const looksAt = sentAt + latencyMs
    if (looksAt >= pendingMs) return { slackMs: looksAt - pendingMs, calls }
    sentAt = looksAt + pauses(calls, random)
  }
}

export interface ScheduleRow {
  strategy: string
  pendingS: number
  meanSlackS: number
  p90SlackS: number
  meanCalls: number
}

export function scheduleTable(
  pendingSeconds: number[],
  latencyMs: number,
  draws = 2000
): ScheduleRow[] {
  const strategies: [string, Pauses][] = [
    ['action (poll.ts: 200 ms ×1.5, cap 1 s)', actionPauses()],
    ['action with cap 0.5 s', actionPauses(200, 500)],
    ['SDK waiter defaults (15 s min, 120 s max)', sdkWaiterPauses()]
  ]
  const rows: ScheduleRow[] = []
  for (const [strategy, pauses] of strategies)
    for (const pendingS of pendingSeconds) {
      const random = seededRandom(0xbe4c4)
      // Real pending times are not whole seconds: spread the ready moment over one second so
      // a deterministic schedule is not judged by one lucky or unlucky phase.
      const outcomes = Array.from({ length: draws }, (_, i) =>
        simulate(pendingS * 1000 + (i / draws) * 1000, latencyMs, pauses, random)
      )
      rows.push({
        strategy,
        pendingS,
        meanSlackS: mean(outcomes.map(o => o.slackMs)) / 1000,
        p90SlackS:
          quantile(
            outcomes.map(o => o.slackMs),
            0.9
          ) / 1000,
        meanCalls: mean(outcomes.map(o => o.calls))
      })
    }
  return rows
}

import * as core from '@actions/core'
import { createAwsClients, isMutating, type AwsClients } from '../aws/client.js'
import { Deadline } from '../aws/poll.js'
import type { Settings } from '../inputs.js'

export interface PhaseTiming {
  phase: string
  seconds: number
}

/** What every mode shares: the clients, the run's deadline, and what happened so far. */
export interface RunContext {
  settings: Settings
  clients: AwsClients
  deadline: Deadline
  /** Every AWS action sent, in order (the API cost a benchmark or a summary reports). */
  calls: string[]
  phases: PhaseTiming[]
  /** What this run created or modified, in words, for the summary and the changed output. */
  changes: string[]
}

export function createRunContext(settings: Settings, clients?: AwsClients): RunContext {
  const calls: string[] = []
  return {
    settings,
    clients:
      clients ?? createAwsClients(settings.region, { onCall: (_s, action) => calls.push(action) }),
    deadline: new Deadline(settings.timeoutSeconds),
    calls,
    phases: [],
    changes: []
  }
}

export function mutatingCalls(ctx: RunContext): string[] {
  return ctx.calls.filter(isMutating)
}

/** Runs one phase with a progress line and its duration recorded for the summary. */
export async function phase<T>(ctx: RunContext, name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now()
  try {
    return await work()
  } finally {
    const seconds = (performance.now() - started) / 1000
    ctx.phases.push({ phase: name, seconds })
    core.info(`${name}: ${seconds.toFixed(1)} s`)
  }
}

// What each reliability case observed, appended as one JSON line to the file named by
// RELIABILITY_RESULTS (scripts/reliability.ts sets it and turns the lines into the report).
// Without that variable nothing is written: the tests assert the same numbers themselves.
import { appendFileSync } from 'node:fs'

export const RESULTS_ENV = 'RELIABILITY_RESULTS'

export type Category =
  | 'crash'
  | 'provision'
  | 'kill'
  | 'throttling'
  | 'concurrency'
  | 'security-groups'
  | 'secrets'
  | 'github'
  | 'inputs'

export interface CaseRecord {
  category: Category
  /** One line saying what was done, e.g. 'UnauthorizedOperation at RunInstances #1, cleanup'. */
  name: string
  /** Faults injected in this case (AWS errors, resets, throttles, kills, GitHub errors). */
  faults: number
  /** Runs of the bundle (main and post steps) in this case. */
  runs: number
  /** Whether the case ended in the state it requires (cleaned up, converged, refused…). */
  survived: boolean
  /** Resources carrying the deployment tag that should not exist any more. */
  leaked: string[]
  /** Ingress rules admitting port 22 left in any security group. */
  sshOpen: string[]
  /** 'where: which secret' for every secret seen where a person could read it. */
  secrets: string[]
  seconds: number
  /** Anything else worth reporting (retry cost, error messages, timings). */
  detail?: Record<string, unknown>
}

export function recordCase(record: CaseRecord): void {
  const file = process.env[RESULTS_ENV]
  if (file) appendFileSync(file, JSON.stringify(record) + '\n')
}

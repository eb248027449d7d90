import * as core from '@actions/core'

// The bundle serves both the main and the post step; main leaves a mark so the second
// invocation knows it is the post step (GitHub passes saved state back as STATE_* variables).
const POST_MARK = 'isPost'
const OPEN_SSH_RULE = 'openSshRule'

export function isPost(): boolean {
  return core.getState(POST_MARK) === 'true'
}

export function markMainRan(): void {
  core.saveState(POST_MARK, 'true')
}

/** What the post step needs to close a temporary SSH rule that main may have left open. */
export interface OpenSshRule {
  region: string
  groupId: string
  cidr: string
  port: number
}

export function saveOpenSshRule(rule: OpenSshRule | undefined): void {
  core.saveState(OPEN_SSH_RULE, rule ? JSON.stringify(rule) : '')
}

export function loadOpenSshRule(): OpenSshRule | undefined {
  const raw = core.getState(OPEN_SSH_RULE)
  if (!raw) return undefined
  return JSON.parse(raw) as OpenSshRule
}

const HELD_LOCK = 'heldLock'

/** The deployment lock this run holds, so the post step can free it if main died holding it. */
export interface HeldLock {
  region: string
  groupId: string
  holder: string
}

export function saveHeldLock(lock: HeldLock | undefined): void {
  core.saveState(HELD_LOCK, lock ? JSON.stringify(lock) : '')
}

export function loadHeldLock(): HeldLock | undefined {
  const raw = core.getState(HELD_LOCK)
  if (!raw) return undefined
  return JSON.parse(raw) as HeldLock
}

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

/** Saved state holding a JSON value; '' stands for none. */
function saveJson(name: string, value: object | undefined): void {
  core.saveState(name, value ? JSON.stringify(value) : '')
}

function loadJson<T>(name: string): T | undefined {
  const raw = core.getState(name)
  return raw ? (JSON.parse(raw) as T) : undefined
}

export const saveOpenSshRule = (rule: OpenSshRule | undefined) => saveJson(OPEN_SSH_RULE, rule)
export const loadOpenSshRule = () => loadJson<OpenSshRule>(OPEN_SSH_RULE)

const HELD_LOCK = 'heldLock'

/** The deployment lock this run holds, so the post step can free it if main died holding it. */
export interface HeldLock {
  region: string
  groupId: string
  holder: string
}

export const saveHeldLock = (lock: HeldLock | undefined) => saveJson(HELD_LOCK, lock)
export const loadHeldLock = () => loadJson<HeldLock>(HELD_LOCK)

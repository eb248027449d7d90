// Why the SSH wait has slack, and what removes it: a host whose firewall drops port 22 opens
// it 300 ms after connectPinned (the action's own connect) started; how long after the
// opening does the login succeed? A dropped SYN is retransmitted by the kernel only after
// about a second, so a connect attempt in flight when the port opens finds out late; a short
// TCP timeout makes the next attempt (a new SYN) come sooner.
import { connectPinned } from '../src/ssh/connect.js'
import type { TestHost } from '../__tests__/support/test-host.js'
import { median } from './lib/stats.js'

const OPEN_AFTER_MS = 300
const TRIALS = 5

export interface SshOpenResult {
  openAfterMs: number
  trials: number
  /** Login with the port open from the start: the floor. */
  openLoginMs: number
  variants: {
    name: string
    tcpTimeoutMs?: number
    afterOpenMs: number[]
    medianAfterOpenMs: number
  }[]
}

export async function sshAfterOpen(
  host: TestHost,
  key: { privateKey: string; hostKeyFingerprint: string },
  progress: (s: string) => void
): Promise<SshOpenResult> {
  const connect = (tcpTimeoutMs?: number) =>
    connectPinned({
      host: host.address,
      username: host.loginUser,
      privateKey: key.privateKey,
      hostKeyFingerprints: [key.hostKeyFingerprint],
      deadline: Date.now() + 30_000,
      tcpTimeoutMs
    })
  const open = [
    { protocol: 'tcp' as const, fromPort: 22, toPort: 22, sources: [`${host.router}/32`] }
  ]
  const floors: number[] = []
  const variants = [
    {
      name: 'connectPinned as provision-step.ts calls it (TCP timeouts 250, 500, 1000 ms in turn)',
      tcpTimeoutMs: undefined,
      afterOpenMs: [] as number[]
    },
    {
      name: 'connectPinned with one TCP timeout of 1000 ms (the kernel retransmits the SYN at 1 s)',
      tcpTimeoutMs: 1000,
      afterOpenMs: [] as number[]
    }
  ]
  progress(`SSH after the port opens: ${TRIALS} trials per variant`)
  try {
    for (let trial = 0; trial < TRIALS; trial++) {
      await host.clearSecurityGroup()
      let started = Date.now()
      await (await connect()).close()
      floors.push(Date.now() - started)
      for (const v of trial % 2 ? [...variants].reverse() : variants) {
        await host.applySecurityGroup([])
        started = Date.now()
        const session = connect(v.tcpTimeoutMs)
        await new Promise(r => setTimeout(r, Math.max(0, started + OPEN_AFTER_MS - Date.now())))
        await host.applySecurityGroup(open)
        const openedAt = Date.now()
        await (await session).close()
        v.afterOpenMs.push(Date.now() - openedAt)
      }
    }
  } finally {
    await host.clearSecurityGroup()
  }
  return {
    openAfterMs: OPEN_AFTER_MS,
    trials: TRIALS,
    openLoginMs: median(floors),
    variants: variants.map(v => ({ ...v, medianAfterOpenMs: median(v.afterOpenMs) }))
  }
}

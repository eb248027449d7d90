// describe() with a moto per test file. Kept apart from moto.ts so scripts (demo, bench) can
// start moto without loading jest.
import { afterAll, beforeAll, beforeEach, describe } from '@jest/globals'
import { motoUnavailable, startMoto, useEnv, type Moto, type StartMotoOptions } from './moto.js'

export interface MotoSuite {
  /** The running moto; read it inside tests and hooks (it starts in beforeAll). */
  readonly moto: Moto
}

/**
 * describe() with a moto for the whole file: started once (env applied for the code under
 * test), reset before each test, stopped after the last. Without Python and moto the suite
 * is skipped with the reason printed (REQUIRE_INTEGRATION=1 turns the skip into a failure).
 */
export function describeWithMoto(
  name: string,
  body: (suite: MotoSuite) => void,
  options: StartMotoOptions = {}
): void {
  const reason = motoUnavailable()
  if (reason) {
    console.warn(`Skipping '${name}': ${reason}`)
    describe.skip(name, () => body({ moto: undefined as unknown as Moto }))
    return
  }
  let running: Moto | undefined
  let restore: (() => void) | undefined
  const suite: MotoSuite = {
    get moto() {
      if (!running) throw new Error('moto is not running (use it inside tests and hooks)')
      return running
    }
  }
  describe(name, () => {
    beforeAll(async () => {
      running = await startMoto(options)
      restore = useEnv(running.env)
    }, 60_000)
    afterAll(async () => {
      restore?.()
      await running?.stop()
    }, 30_000)
    beforeEach(async () => {
      await running?.reset()
    })
    body(suite)
  })
}

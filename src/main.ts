import * as core from '@actions/core'
import { InputError, readSettings, type Mode } from './inputs.js'
import { apply } from './modes/apply.js'
import { createRunContext, type RunContext } from './modes/context.js'
import { destroy } from './modes/destroy.js'
import { plan } from './modes/plan.js'
import { maskSecretInputs } from './secrets.js'
import { markMainRan } from './state.js'

const MODES: Record<Mode, (ctx: RunContext) => Promise<void>> = { apply, plan, destroy }

/** The main step: masks secrets, validates every input, then runs the chosen mode. */
export async function run(): Promise<void> {
  maskSecretInputs()
  markMainRan()
  try {
    const settings = readSettings(name => core.getInput(name))
    await MODES[settings.mode](createRunContext(settings))
  } catch (error) {
    if (error instanceof InputError) {
      for (const p of error.problems)
        core.error(`${p.input}: ${p.message}`, { title: `Input ${p.input}` })
      core.setFailed(
        `${error.problems.length} input problem${error.problems.length === 1 ? '' : 's'} (listed above); nothing was changed.`
      )
      return
    }
    core.setFailed(error instanceof Error ? error.message : String(error))
  }
}

import * as core from '@actions/core'
import { InputError, readSettings, type Mode, type Settings } from './inputs.js'
import { maskSecretInputs } from './secrets.js'
import { markMainRan } from './state.js'

type ModeRunner = (settings: Settings) => Promise<void>

function notBuilt(mode: Mode): ModeRunner {
  return async () => {
    throw new Error(
      `mode '${mode}' is not available in this version of the action; nothing was changed. Pin a release that lists it in its README.`
    )
  }
}

const MODES: Record<Mode, ModeRunner> = {
  apply: notBuilt('apply'),
  plan: notBuilt('plan'),
  destroy: notBuilt('destroy')
}

/** The main step: masks secrets, validates every input, then runs the chosen mode. */
export async function run(): Promise<void> {
  maskSecretInputs()
  markMainRan()
  try {
    const settings = readSettings(name => core.getInput(name))
    await MODES[settings.mode](settings)
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

import * as core from '@actions/core'
import { SECRET_INPUTS } from './inputs.js'

/** Registers a secret with the runner's log masking: the whole value and each of its lines. */
export function maskSecret(value: string): void {
  if (value === '') return
  core.setSecret(value)
  // A multi-line value (a private key) is masked line by line too, because the runner may
  // print it one line at a time.
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim()
    if (trimmed.length >= 8 && !/^-----(BEGIN|END) /.test(trimmed)) core.setSecret(trimmed)
  }
}

/** Masks every secret input before anything else can log. */
export function maskSecretInputs(): void {
  for (const name of SECRET_INPUTS) maskSecret(core.getInput(name))
}

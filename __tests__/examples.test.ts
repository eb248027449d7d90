// The example workflows are part of the manual: every `with:` key of a step that uses this
// action must be a real input, and every required input must be given.
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'

interface Step {
  uses?: string
  with?: Record<string, unknown>
}
interface Workflow {
  on: unknown
  jobs: Record<string, { steps?: Step[] }>
}

const action = parse(readFileSync('action.yml', 'utf8')) as {
  inputs: Record<string, { required?: boolean }>
}
const files = readdirSync('examples').filter(f => f.endsWith('.yml'))

describe('examples/', () => {
  it('holds the three documented workflows', () => {
    expect(files.length).toBeGreaterThanOrEqual(3)
  })

  it.each(files)('%s uses only real inputs', file => {
    const wf = parse(readFileSync(`examples/${file}`, 'utf8')) as Workflow
    expect(wf.on).toBeDefined()
    const ours = Object.values(wf.jobs)
      .flatMap(j => j.steps ?? [])
      .filter(s => s.uses?.startsWith('openemr/openemr-redis-action'))
    expect(ours.length).toBeGreaterThan(0)
    for (const step of ours) {
      const given = Object.keys(step.with ?? {})
      for (const key of given) expect(Object.keys(action.inputs)).toContain(key)
      for (const [name, spec] of Object.entries(action.inputs))
        if (spec.required) expect(given).toContain(name)
    }
  })
})

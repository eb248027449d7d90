// README is the user's manual: its input and output tables must say what action.yml says.
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

interface ActionYml {
  inputs: Record<string, { default?: string; required?: boolean }>
  outputs: Record<string, unknown>
}

const action = parse(readFileSync('action.yml', 'utf8')) as ActionYml
const readme = readFileSync('README.md', 'utf8')

/** Rows of the markdown table under a heading: first cell (a `code` name) → second cell. */
function tableRows(heading: string): Map<string, string> {
  const start = readme.indexOf(`\n## ${heading}\n`)
  expect(start).toBeGreaterThanOrEqual(0)
  const section = readme.slice(start + 1).split(/\n## /)[0]
  const rows = new Map<string, string>()
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([a-z0-9-]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line)
    if (m) rows.set(m[1], m[2].trim())
  }
  return rows
}

describe('README and action.yml', () => {
  it('list the same inputs with the same defaults', () => {
    const rows = tableRows('Inputs')
    expect([...rows.keys()].sort()).toEqual(Object.keys(action.inputs).sort())
    for (const [name, spec] of Object.entries(action.inputs)) {
      const shown = rows.get(name) ?? ''
      if (spec.required) expect(shown).toMatch(/required/)
      else if (spec.default) expect(shown).toContain(`\`${spec.default}\``)
      else expect(shown).toMatch(/^(—|\(empty\)|empty)/)
    }
  })

  it('list the same outputs', () => {
    expect([...tableRows('Outputs').keys()].sort()).toEqual(Object.keys(action.outputs).sort())
  })

  it('documents the two local commands it promises', () => {
    expect(readme).toContain('npm ci && npm test')
  })
})

import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { unifiedDiff } from '../../src/config-file/diff.js'

const FIXTURE = readFileSync(
  new URL('../fixtures/06-redis-configuration.config', import.meta.url),
  'utf8'
)
const files = { fromFile: 'a/f', toFile: 'b/f' }

/** Applies a unified diff to `text` strictly: every context and removed line must match. */
function applyPatch(text: string, patch: string): string {
  const source = text === '' ? [] : text.split(/(?<=\n)/)
  const out: string[] = []
  const lines = patch.split('\n').slice(2, -1)
  let at = 0
  for (let i = 0; i < lines.length; i++) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(lines[i])
    if (!header) throw new Error(`bad hunk header ${lines[i]}`)
    const start = header[2] === '0' ? Number(header[1]) : Number(header[1]) - 1
    while (at < start) out.push(source[at++])
    for (i++; i < lines.length && !lines[i].startsWith('@@'); i++) {
      const [kind, body] = [lines[i][0], lines[i].slice(1)]
      const noEol = lines[i + 1] === '\\ No newline at end of file'
      const full = noEol ? body : `${body}\n`
      if (noEol) i++
      if (kind === '+') out.push(full)
      else if (source[at++] !== full) throw new Error(`line ${at} does not match ${lines[i]}`)
      if (kind === ' ') out.push(full)
    }
    i--
  }
  while (at < source.length) out.push(source[at++])
  return out.join('')
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff(FIXTURE, FIXTURE, files)).toBe('')
  })

  it('shows the fixture rewrite as one hunk with three lines of context', () => {
    const after = FIXTURE.replace('<<REDIS_IP>>', '10.0.1.23')
    const sed = FIXTURE.split('\n')[16]
    expect(unifiedDiff(FIXTURE, after, files)).toBe(
      [
        '--- a/f',
        '+++ b/f',
        '@@ -14,4 +14,4 @@',
        '         fi',
        ' ',
        "         printf '\\n\\n06 Redis Configuration\\n\\n'",
        `-${sed}`,
        `+${sed.replace('<<REDIS_IP>>', '10.0.1.23')}`,
        ''
      ].join('\n')
    )
  })

  it('marks a last line without a newline the way diff and git do', () => {
    expect(unifiedDiff('a\nb', 'a\nc', files)).toBe(
      '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n'
    )
    expect(unifiedDiff('a\nb\n', 'a\nb', files)).toBe(
      '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n'
    )
  })

  it('shows CRLF lines without their carriage return', () => {
    expect(unifiedDiff('x\r\ny\r\n', 'x\r\nz\r\n', files)).toBe(
      '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n x\n-y\n+z\n'
    )
  })

  it('uses empty ranges for an empty side', () => {
    expect(unifiedDiff('', 'a\n', files)).toBe('--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+a\n')
    expect(unifiedDiff('a\n', '', files)).toBe('--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-a\n')
  })

  it('joins and splits hunks where GNU diff -u does', () => {
    const base = Array.from({ length: 30 }, (_, i) => `l${i + 1}`)
    const near = base.map(l => (l === 'l5' || l === 'l11' ? `${l}!` : l))
    const touching = base.map(l => (l === 'l5' || l === 'l12' ? `${l}!` : l))
    const far = base.map(l => (l === 'l5' || l === 'l13' ? `${l}!` : l))
    const hunks = (after: string[]) =>
      unifiedDiff(`${base.join('\n')}\n`, `${after.join('\n')}\n`, files)
        .split('\n')
        .filter(l => l.startsWith('@@'))
    expect(hunks(near)).toEqual(['@@ -2,13 +2,13 @@'])
    // Six unchanged lines between two changes are exactly two contexts: still one hunk.
    expect(hunks(touching)).toEqual(['@@ -2,14 +2,14 @@'])
    expect(hunks(far)).toEqual(['@@ -2,7 +2,7 @@', '@@ -10,7 +10,7 @@'])
  })

  it('produces diffs that patch the old text into the new one (random texts)', () => {
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const text = () => {
      const n = random(20)
      const body = Array.from({ length: n }, () => 'abcdx'[random(5)]).join('\n')
      return n > 0 && random(3) > 0 ? `${body}\n` : body
    }
    for (let k = 0; k < 500; k++) {
      const [a, b] = [text(), text()]
      const patch = unifiedDiff(a, b, { ...files, context: random(4) })
      expect(patch === '').toBe(a === b)
      if (patch !== '') expect(applyPatch(a, patch)).toBe(b)
    }
  })

  it('stays correct past the edit-distance cap on a large, fully different file', () => {
    const a = `${Array.from({ length: 3000 }, (_, i) => `a${i}`).join('\n')}\n`
    const b = `${Array.from({ length: 3000 }, (_, i) => `b${i}`).join('\n')}\n`
    expect(applyPatch(a, unifiedDiff(a, b, files))).toBe(b)
  })
})

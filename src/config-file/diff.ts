// A unified diff (the `diff -u` / `git diff` format) for showing a rewrite in plan mode and in
// the job summary. Config files are small; Myers' algorithm keeps large files with few changes
// cheap, and a cap on the edit distance bounds the worst case.

interface Line {
  /** The text shown, without its terminator (a CR of a CRLF file is dropped for display). */
  text: string
  /** What is compared: the text plus its terminator, so a lost final newline is a change. */
  key: string
  /** True for a last line without a newline, which gets git's marker below it. */
  noEol: boolean
}

type Op = { kind: ' ' | '-' | '+'; line: Line; a: number; b: number }

const MAX_EDIT_DISTANCE = 2000

function splitLines(text: string): Line[] {
  if (text === '') return []
  const parts = text.split('\n')
  const endsWithNewline = parts[parts.length - 1] === ''
  if (endsWithNewline) parts.pop()
  return parts.map((raw, i) => {
    const noEol = !endsWithNewline && i === parts.length - 1
    return { text: raw.replace(/\r$/, ''), key: noEol ? raw : `${raw}\n`, noEol }
  })
}

/** Myers' O(ND) shortest edit script between a and b, as keep/delete/insert operations. */
function editScript(a: Line[], b: Line[]): Op[] {
  let start = 0
  while (start < a.length && start < b.length && a[start].key === b[start].key) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1].key === b[endB - 1].key) {
    endA--
    endB--
  }
  const ops: Op[] = []
  for (let i = 0; i < start; i++) ops.push({ kind: ' ', line: a[i], a: i, b: i })
  ops.push(...middle(a, b, start, endA, endB))
  for (let i = 0; endA + i < a.length; i++)
    ops.push({ kind: ' ', line: a[endA + i], a: endA + i, b: endB + i })
  return ops
}

function middle(a: Line[], b: Line[], start: number, endA: number, endB: number): Op[] {
  const n = endA - start
  const m = endB - start
  const offset = n + m + 1
  const v = new Int32Array(2 * offset + 1)
  const trace: Int32Array[] = []
  let found = -1
  for (let d = 0; d <= n + m && d <= MAX_EDIT_DISTANCE && found < 0; d++) {
    trace.push(v.slice())
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
          ? v[offset + k + 1]
          : v[offset + k - 1] + 1
      let y = x - k
      while (x < n && y < m && a[start + x].key === b[start + y].key) {
        x++
        y++
      }
      v[offset + k] = x
      if (x >= n && y >= m) {
        found = d
        break
      }
    }
  }
  if (found < 0) return replaceAll(a, b, start, endA, endB)

  const ops: Op[] = []
  let x = n
  let y = m
  for (let d = found; d > 0; d--) {
    const prev = trace[d]
    const k = x - y
    const down = k === -d || (k !== d && prev[offset + k - 1] < prev[offset + k + 1])
    const prevK = down ? k + 1 : k - 1
    const prevX = prev[offset + prevK]
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) {
      x--
      y--
      ops.push({ kind: ' ', line: a[start + x], a: start + x, b: start + y })
    }
    if (down) {
      y--
      ops.push({ kind: '+', line: b[start + y], a: start + x, b: start + y })
    } else {
      x--
      ops.push({ kind: '-', line: a[start + x], a: start + x, b: start + y })
    }
  }
  while (x > 0 && y > 0) {
    x--
    y--
    ops.push({ kind: ' ', line: a[start + x], a: start + x, b: start + y })
  }
  return ops.reverse()
}

function replaceAll(a: Line[], b: Line[], start: number, endA: number, endB: number): Op[] {
  const ops: Op[] = []
  for (let i = start; i < endA; i++) ops.push({ kind: '-', line: a[i], a: i, b: start })
  for (let i = start; i < endB; i++) ops.push({ kind: '+', line: b[i], a: endA, b: i })
  return ops
}

function range(first: number, count: number): string {
  // diff's convention: an empty range names the line before it, and ",1" is left out.
  if (count === 0) return `${first},0`
  return count === 1 ? `${first + 1}` : `${first + 1},${count}`
}

/** The unified diff from `before` to `after`; an empty string when they are equal. */
export function unifiedDiff(
  before: string,
  after: string,
  options: { fromFile: string; toFile: string; context?: number }
): string {
  if (before === after) return ''
  const context = options.context ?? 3
  const ops = editScript(splitLines(before), splitLines(after))
  const out = [`--- ${options.fromFile}`, `+++ ${options.toFile}`]
  let i = 0
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === ' ') i++
    if (i === ops.length) break
    const first = Math.max(0, i - context)
    // Extend the hunk while the next change is close enough that their contexts would touch.
    let last = i
    for (let j = i; j < ops.length; j++) {
      if (ops[j].kind === ' ') continue
      if (j - last - 1 > 2 * context) break
      last = j
    }
    const end = Math.min(ops.length, last + context + 1)
    const hunk = ops.slice(first, end)
    const countA = hunk.filter(o => o.kind !== '+').length
    const countB = hunk.filter(o => o.kind !== '-').length
    out.push(`@@ -${range(hunk[0].a, countA)} +${range(hunk[0].b, countB)} @@`)
    for (const op of hunk) {
      out.push(`${op.kind}${op.line.text}`)
      if (op.line.noEol) out.push('\\ No newline at end of file')
    }
    i = end
  }
  return `${out.join('\n')}\n`
}

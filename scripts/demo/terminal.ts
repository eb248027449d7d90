// Everything the demo prints goes through here: colour only on a terminal (and never with
// NO_COLOR), elapsed time since the start, and a record of the text so the demo can check its
// own output for the Redis password.

const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR
const sgr = (code: string) => (s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s)

export const style = {
  bold: sgr('1'),
  dim: sgr('2'),
  red: sgr('31'),
  green: sgr('32'),
  yellow: sgr('33'),
  cyan: sgr('36')
}

const started = performance.now()
const printed: string[] = []

export const elapsedSeconds = () => (performance.now() - started) / 1000

/** `[ 12.3s]`: the time since the demo started, fixed width so columns line up. */
export const stamp = () => style.dim(`[${elapsedSeconds().toFixed(1).padStart(5)}s]`)

let muted = false

/** After an interrupt the main flow unwinds with errors nobody needs to read: only the teardown speaks. */
export function mute(): void {
  muted = true
}

/** Prints what `show` says even while muted (it must not await). */
export function unmuted(show: () => void): void {
  const was = muted
  muted = false
  try {
    show()
  } finally {
    muted = was
  }
}

export function say(line = ''): void {
  if (muted) return
  printed.push(line)
  process.stdout.write(`${line}\n`)
}

/** A section heading. */
export function heading(title: string): void {
  say()
  say(style.bold(style.cyan(title)))
}

/** A timestamped progress line. */
export function progress(text: string): void {
  say(`  ${stamp()} ${text}`)
}

export function pass(text: string): void {
  say(`  ${style.green('✓')} ${text}`)
}

export function fail(text: string): void {
  say(`  ${style.red('✗')} ${text}`)
}

/** Everything printed so far (with colour codes, which never hide a password). */
export const transcript = () => printed.join('\n')

export const terminalWidth = () => Math.max(60, Math.min(process.stdout.columns || 100, 120))

/** Wraps text at spaces, keeping its leading indent and continuing lines with `indent`. */
export function wrap(text: string, width: number, indent: string): string[] {
  const lead = /^\s*/.exec(text)?.[0] ?? ''
  const lines: string[] = []
  let line = lead
  for (const word of text.slice(lead.length).split(' ')) {
    if (line.trim() && line.length + 1 + word.length > width) {
      lines.push(line)
      line = indent + word
    } else line = line.trim() ? `${line} ${word}` : line + word
  }
  lines.push(line)
  return lines
}

/** Inline markdown as plain text: links keep their text, code spans and emphasis lose marks. */
export function inline(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
}

const cells = (row: string) =>
  row
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map(c => inline(c.trim()))

/** A markdown table as aligned columns; the header row in bold. */
function table(rows: string[], indent: string): string[] {
  const body = rows.filter(r => !/^\|\s*:?-{3,}/.test(r.trim())).map(cells)
  const widths = body[0].map((_, i) => Math.max(...body.map(r => (r[i] ?? '').length)))
  // Numbers align right, as in a spreadsheet.
  const numeric = widths.map((_, i) => body.slice(1).every(r => /^-?[\d.]+$/.test(r[i] ?? '')))
  return body.map((r, n) => {
    const line = r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd()
    return indent + (n === 0 ? style.bold(line) : line)
  })
}

/**
 * The job summary's markdown for a terminal: headings in bold, tables as aligned columns,
 * list items wrapped with a hanging indent, links reduced to their text.
 */
export function renderMarkdown(markdown: string, indent = '  '): string[] {
  const width = terminalWidth()
  const out: string[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const head = /^(#{1,6})\s+(.*)$/.exec(line)
    if (head) {
      const text = inline(head[2])
      out.push(indent + style.bold(head[1].length <= 2 ? text.toUpperCase() : text))
    } else if (line.trim().startsWith('|')) {
      const rows: string[] = []
      while (i < lines.length && lines[i].trim().startsWith('|')) rows.push(lines[i++])
      i--
      // A table with a header and no rows (destroy has no resources left) says nothing.
      if (rows.filter(r => !/^\|\s*:?-{3,}/.test(r.trim())).length > 1)
        out.push(...table(rows, indent))
    } else if (/^\s*[-*]\s+/.test(line)) {
      const text = inline(line.replace(/^\s*[-*]\s+/, ''))
      out.push(...wrap(`${indent}• ${text}`, width, `${indent}  `))
    } else if (line.trim() === '') {
      if (out.length && out[out.length - 1] !== '') out.push('')
    } else out.push(...wrap(indent + inline(line), width, indent))
  }
  while (out.length && out[out.length - 1] === '') out.pop()
  return out
}

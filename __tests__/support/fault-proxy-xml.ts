// Just enough XML for the fault proxy: find elements by path in moto's EC2 query responses and
// splice edits back in. No library: moto writes machine-generated XML with no comments, CDATA or
// '>' inside attribute values, and escapes text, so a tag scanner with depth counting is exact
// for it. Text is returned raw (still escaped); ids and state names never need unescaping.

export interface XmlElement {
  name: string
  /** Offset of '<' of the start tag. */
  start: number
  /** Offset just past the end tag (or past '/>' for an empty element). */
  end: number
  /** Content between the tags; innerStart === innerEnd for an empty element. */
  innerStart: number
  innerEnd: number
}

const TAG = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/g

/** Direct children of `parent` (or of the document when omitted: the root element). */
export function children(xml: string, parent?: XmlElement): XmlElement[] {
  const from = parent ? parent.innerStart : 0
  const to = parent ? parent.innerEnd : xml.length
  const found: XmlElement[] = []
  let depth = 0
  let open: { name: string; start: number; innerStart: number } | undefined
  TAG.lastIndex = from
  for (let m = TAG.exec(xml); m && m.index < to; m = TAG.exec(xml)) {
    const [whole, closing, name, selfClosing] = m
    const after = m.index + whole.length
    if (selfClosing) {
      if (depth === 0) {
        found.push({ name, start: m.index, end: after, innerStart: after, innerEnd: after })
      }
    } else if (!closing) {
      if (depth === 0) open = { name, start: m.index, innerStart: after }
      depth++
    } else {
      depth--
      if (depth === 0 && open) {
        found.push({ ...open, end: after, innerEnd: m.index })
        open = undefined
      }
      if (depth < 0) throw new Error(`unbalanced XML at offset ${m.index}`)
    }
  }
  if (depth !== 0) throw new Error('unbalanced XML: unclosed element')
  return found
}

export function child(xml: string, parent: XmlElement, name: string): XmlElement | undefined {
  return children(xml, parent).find(c => c.name === name)
}

/**
 * Every element reached by following `path` from the root; '*' matches any name. The first
 * step names the root element, e.g. ['*', 'reservationSet', 'item', 'instancesSet', 'item'].
 */
export function select(xml: string, path: string[]): XmlElement[] {
  let level = children(xml).filter(e => path[0] === '*' || e.name === path[0])
  for (const step of path.slice(1)) {
    level = level.flatMap(p => children(xml, p).filter(e => step === '*' || e.name === step))
  }
  return level
}

export function text(xml: string, element: XmlElement | undefined): string | undefined {
  return element ? xml.slice(element.innerStart, element.innerEnd) : undefined
}

/** The text of the direct child `name` of `parent`. */
export function childText(xml: string, parent: XmlElement, name: string): string | undefined {
  return text(xml, child(xml, parent, name))
}

export interface XmlEdit {
  start: number
  end: number
  replacement: string
}

export function replaceInner(element: XmlElement, content: string): XmlEdit {
  // An empty element written as <name/> has no inside to splice into: write it out in full.
  if (element.innerStart === element.end) {
    return {
      start: element.start,
      end: element.end,
      replacement: `<${element.name}>${content}</${element.name}>`
    }
  }
  return { start: element.innerStart, end: element.innerEnd, replacement: content }
}

export const remove = (element: XmlElement): XmlEdit => ({
  start: element.start,
  end: element.end,
  replacement: ''
})

/**
 * Applies non-overlapping edits found on the same string. An edit inside a removed element is
 * dropped, so callers can remove a parent and edit its children without bookkeeping.
 */
export function applyEdits(xml: string, edits: XmlEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || b.end - a.end)
  const kept: XmlEdit[] = []
  for (const e of sorted) {
    const last = kept[kept.length - 1]
    if (last && e.start < last.end) {
      if (e.end <= last.end) continue
      throw new Error(`overlapping XML edits at ${e.start}`)
    }
    kept.push(e)
  }
  let out = ''
  let at = 0
  for (const e of kept) {
    out += xml.slice(at, e.start) + e.replacement
    at = e.end
  }
  return out + xml.slice(at)
}

import type { Duplex } from 'node:stream'

/** An error reply (`-ERR …`). Returned as a value: it is Redis's answer, not a transport failure. */
export class RespError {
  constructor(readonly message: string) {}
  toString(): string {
    return this.message
  }
}

/** A RESP2 reply: simple and bulk strings as text, integers, nil, errors, arrays. */
export type RespReply = string | number | null | RespError | RespReply[]

export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`not a Redis (RESP) reply: ${message}`)
    this.name = 'RespProtocolError'
  }
}

const CRLF = Buffer.from('\r\n')

/** Encodes a command the way every client sends one: an array of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const body = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg
    parts.push(Buffer.from(`$${body.length}\r\n`), body, CRLF)
  }
  return Buffer.concat(parts)
}

type Parsed = { value: RespReply; next: number } | undefined

// Limits keep a wrong peer (say, an SSH or HTTP server at the port) from making us buffer forever.
const MAX_BULK = 512 * 1024 * 1024
const MAX_LINE = 64 * 1024

function readLine(buf: Buffer, start: number): { line: string; next: number } | undefined {
  const end = buf.indexOf(CRLF, start)
  if (end < 0) {
    if (buf.length - start > MAX_LINE) throw new RespProtocolError('header line too long')
    return undefined
  }
  return { line: buf.toString('utf8', start, end), next: end + 2 }
}

function integerOf(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new RespProtocolError(`'${text.slice(0, 40)}' is not an integer`)
  return Number(text)
}

function parseAt(buf: Buffer, offset: number): Parsed {
  if (offset >= buf.length) return undefined
  const type = String.fromCharCode(buf[offset])
  const header = readLine(buf, offset + 1)
  if (!header) return undefined
  const { line, next } = header
  switch (type) {
    case '+':
      return { value: line, next }
    case '-':
      return { value: new RespError(line), next }
    case ':':
      return { value: integerOf(line), next }
    case '$': {
      const length = integerOf(line)
      if (length === -1) return { value: null, next }
      if (length < 0 || length > MAX_BULK) throw new RespProtocolError(`bulk length ${length}`)
      if (buf.length < next + length + 2) return undefined
      if (buf[next + length] !== 13 || buf[next + length + 1] !== 10)
        throw new RespProtocolError('bulk string not terminated by CRLF')
      return { value: buf.toString('utf8', next, next + length), next: next + length + 2 }
    }
    case '*': {
      const count = integerOf(line)
      if (count === -1) return { value: null, next }
      if (count < 0) throw new RespProtocolError(`array length ${count}`)
      const items: RespReply[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseAt(buf, at)
        if (!item) return undefined
        items.push(item.value)
        at = item.next
      }
      return { value: items, next: at }
    }
    default:
      throw new RespProtocolError(`unexpected type byte 0x${buf[offset].toString(16)}`)
  }
}

/** Parses replies from a byte stream cut at arbitrary points. */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0)

  /** Adds bytes; returns every reply that is now complete, in order. */
  push(chunk: Buffer): RespReply[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk
    const replies: RespReply[] = []
    let offset = 0
    for (;;) {
      const parsed = parseAt(this.buffer, offset)
      if (!parsed) break
      replies.push(parsed.value)
      offset = parsed.next
    }
    this.buffer = this.buffer.subarray(offset)
    return replies
  }

  /** Bytes received that do not yet form a whole reply. */
  get pending(): number {
    return this.buffer.length
  }
}

interface Waiter {
  resolve(reply: RespReply): void
  reject(error: Error): void
  timer: NodeJS.Timeout
}

/** A minimal client: commands go out in order, replies come back in the same order. */
export class RespConnection {
  private readonly parser = new RespParser()
  private readonly waiting: Waiter[] = []
  private failure: Error | undefined

  constructor(private readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      let replies: RespReply[]
      try {
        replies = this.parser.push(chunk)
      } catch (e) {
        this.fail(e as Error)
        stream.destroy()
        return
      }
      for (const reply of replies) {
        const waiter = this.waiting.shift()
        if (!waiter) return this.fail(new RespProtocolError('a reply nobody asked for'))
        clearTimeout(waiter.timer)
        waiter.resolve(reply)
      }
    })
    stream.on('error', (err: Error) => this.fail(err))
    stream.on('close', () => this.fail(new Error('the connection to Redis closed')))
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.reject(error)
    }
  }

  command(args: readonly string[], timeoutMs = 5000): Promise<RespReply> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(waiter)
          if (i >= 0) this.waiting.splice(i, 1)
          // A late reply would now pair with the next command: the connection is unusable.
          this.fail(new Error(`no reply from Redis within ${timeoutMs} ms`))
          reject(new Error(`no reply from Redis within ${timeoutMs} ms`))
          this.stream.destroy()
        }, timeoutMs)
      }
      this.waiting.push(waiter)
      this.stream.write(encodeCommand(args))
    })
  }

  /** Half-closes the stream; the server then closes its side. */
  end(): void {
    this.stream.end()
  }
}

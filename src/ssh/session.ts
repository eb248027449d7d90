import type { Client, ClientChannel } from 'ssh2'
import type { Duplex } from 'node:stream'

export interface SessionExecOptions {
  /** Written to the command's stdin, which is then closed. Secrets travel this way, never in argv. */
  stdin?: string | Buffer
  /** The exec is abandoned (channel closed) after this long and ExecTimeoutError is thrown. */
  timeoutMs?: number
}

export interface SessionExecResult {
  /** Exit status; null when the command was ended by a signal or the channel closed without one. */
  code: number | null
  signal?: string
  stdout: string
  stderr: string
}

/** What is known about an established connection, for logs and the job summary. */
export interface SessionInfo {
  host: string
  port: number
  username: string
  /** The host key fingerprint the server presented (one of the pinned ones). */
  hostKeyFingerprint: string
  /** Connection attempts it took, including the successful one. */
  attempts: number
  /** Milliseconds from the first attempt to an authenticated session. */
  connectMs: number
}

// Output beyond this is dropped from the front: the end of a failing script is what explains it.
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024

export class ExecTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    readonly partial: { stdout: string; stderr: string }
  ) {
    super(`remote command did not finish within ${Math.round(timeoutMs / 1000)} s`)
    this.name = 'ExecTimeoutError'
  }
}

export class SessionClosedError extends Error {
  constructor(what: string, cause?: Error) {
    super(`the SSH session is closed; cannot ${what}${cause ? ` (${cause.message})` : ''}`)
    this.name = 'SessionClosedError'
  }
}

class TailBuffer {
  private chunks: Buffer[] = []
  private size = 0
  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
    while (this.size > MAX_OUTPUT_BYTES && this.chunks.length > 1) {
      this.size -= this.chunks[0].length
      this.chunks.shift()
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

/**
 * An authenticated SSH connection: runs commands and opens tunnels. It satisfies the
 * RemoteShell interface that redis/ declares, without either side importing the other.
 */
export class SshSession {
  private closed = false
  private lastError: Error | undefined
  private readonly closedPromise: Promise<void>

  constructor(
    private readonly client: Client,
    readonly info: SessionInfo
  ) {
    // An 'error' without a listener would crash the process; a dead connection shows up as
    // a failed exec or forward instead.
    client.on('error', err => {
      this.lastError = err
    })
    this.closedPromise = new Promise(resolve =>
      client.once('close', () => {
        this.closed = true
        resolve()
      })
    )
  }

  exec(command: string, options: SessionExecOptions = {}): Promise<SessionExecResult> {
    if (this.closed) return Promise.reject(new SessionClosedError('run a command', this.lastError))
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err) return reject(err)
        collect(channel, command, options).then(resolve, reject)
      })
    })
  }

  forward(host: string, port: number): Promise<Duplex> {
    if (this.closed) return Promise.reject(new SessionClosedError('open a tunnel', this.lastError))
    return new Promise((resolve, reject) => {
      // The source address is informational for sshd; loopback says "from the client".
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (err)
          return reject(
            new Error(`the SSH server refused a tunnel to ${host}:${port}: ${err.message}`)
          )
        resolve(channel)
      })
    })
  }

  /** Ends the connection; resolves once the socket is closed (at most a few seconds). */
  async close(): Promise<void> {
    if (this.closed) return
    this.client.end()
    let timer: NodeJS.Timeout | undefined
    const forced = new Promise<void>(resolve => {
      timer = setTimeout(() => {
        this.client.destroy()
        resolve()
      }, 3000)
    })
    await Promise.race([this.closedPromise, forced])
    clearTimeout(timer)
  }
}

function collect(
  channel: ClientChannel,
  command: string,
  options: SessionExecOptions
): Promise<SessionExecResult> {
  return new Promise((resolve, reject) => {
    const stdout = new TailBuffer()
    const stderr = new TailBuffer()
    let code: number | null = null
    let signal: string | undefined
    let timer: NodeJS.Timeout | undefined
    let done = false

    channel.on('data', (chunk: Buffer) => stdout.push(chunk))
    channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
      code = exitCode
      if (exitSignal) signal = exitSignal
    })
    channel.on('close', () => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ code, ...(signal ? { signal } : {}), stdout: stdout.text(), stderr: stderr.text() })
    })
    channel.on('error', (err: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      reject(err)
    })
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (done) return
        done = true
        // OpenSSH delivers the signal to the command; closing the channel makes sure we stop
        // waiting even on a server that ignores it.
        channel.signal('KILL')
        channel.close()
        reject(
          new ExecTimeoutError(command, options.timeoutMs ?? 0, {
            stdout: stdout.text(),
            stderr: stderr.text()
          })
        )
      }, options.timeoutMs)
    }
    // Always send EOF, so a command that reads stdin never waits for input that cannot come.
    if (options.stdin !== undefined) channel.end(options.stdin)
    else channel.end()
  })
}

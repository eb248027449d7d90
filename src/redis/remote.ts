import type { Duplex } from 'node:stream'

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. Secrets travel this way, never in argv. */
  stdin?: string | Buffer
  /** The exec is abandoned (channel closed) after this long; the result is an ExecTimeoutError. */
  timeoutMs?: number
}

export interface ExecResult {
  /** Exit status; null when the remote command was ended by a signal or the channel closed. */
  code: number | null
  signal?: string
  stdout: string
  stderr: string
}

/**
 * A shell on the Redis host, as the provisioning and verification code needs it. Defined here
 * (not in ssh/) so redis/ does not depend on how the shell is reached; ssh/session.ts is the
 * implementation.
 */
export interface RemoteShell {
  exec(command: string, options?: ExecOptions): Promise<ExecResult>
  /** A byte stream to host:port as seen from the remote machine (an SSH direct-tcpip channel). */
  forward(host: string, port: number): Promise<Duplex>
  close(): Promise<void>
}

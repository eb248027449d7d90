import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type Socket } from 'node:net'
import {
  encodeCommand,
  RespConnection,
  RespError,
  RespParser,
  RespProtocolError,
  type RespReply
} from '../../src/redis/resp.js'
import { connectTo, startFakeRedis, type FakeRedis } from './fake-redis.js'

let redis: FakeRedis | undefined
afterEach(async () => {
  await redis?.close()
  redis = undefined
})

describe('encodeCommand', () => {
  it('writes an array of bulk strings with byte lengths', () => {
    expect(encodeCommand(['SET', 'k', 'välue']).toString()).toBe(
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n'
    )
    expect(encodeCommand([]).toString()).toBe('*0\r\n')
    expect(encodeCommand(['a\r\nb']).toString()).toBe('*1\r\n$4\r\na\r\nb\r\n')
  })
})

describe('RespParser', () => {
  const stream =
    '+OK\r\n' +
    '-ERR wrong number of arguments\r\n' +
    ':42\r\n' +
    ':-7\r\n' +
    '$5\r\nhello\r\n' +
    '$0\r\n\r\n' +
    '$-1\r\n' +
    '$4\r\na\r\nb\r\n' +
    '*3\r\n$3\r\nfoo\r\n:1\r\n*2\r\n+x\r\n$-1\r\n' +
    '*0\r\n' +
    '*-1\r\n' +
    '$6\r\nnäive\r\n'
  const expected: RespReply[] = [
    'OK',
    new RespError('ERR wrong number of arguments'),
    42,
    -7,
    'hello',
    '',
    null,
    'a\r\nb',
    ['foo', 1, ['x', null]],
    [],
    null,
    'näive'
  ]

  it('parses every RESP2 type from one chunk', () => {
    expect(new RespParser().push(Buffer.from(stream))).toEqual(expected)
  })

  it('gives the same replies however the bytes are cut', () => {
    const bytes = Buffer.from(stream)
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new RespParser()
      const replies = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))]
      expect(replies).toEqual(expected)
      expect(parser.pending).toBe(0)
    }
    const parser = new RespParser()
    const replies: RespReply[] = []
    for (const byte of bytes) replies.push(...parser.push(Buffer.from([byte])))
    expect(replies).toEqual(expected)
  })

  it('holds an incomplete reply until the rest arrives', () => {
    const parser = new RespParser()
    expect(parser.push(Buffer.from('*2\r\n$3\r\nfoo\r\n'))).toEqual([])
    expect(parser.pending).toBeGreaterThan(0)
    expect(parser.push(Buffer.from(':9\r\n+next'))).toEqual([['foo', 9]])
    expect(parser.push(Buffer.from('\r\n'))).toEqual(['next'])
  })

  it('rejects bytes that are not RESP, like an SSH banner', () => {
    expect(() => new RespParser().push(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))).toThrow(
      RespProtocolError
    )
    expect(() => new RespParser().push(Buffer.from(':abc\r\n'))).toThrow(/not an integer/)
    expect(() => new RespParser().push(Buffer.from('$3\r\nabcX\r\n'))).toThrow(/CRLF/)
    expect(() => new RespParser().push(Buffer.from('$-5\r\n'))).toThrow(/bulk length/)
    expect(() => new RespParser().push(Buffer.alloc(70000, 43))).toThrow(/too long/)
  })
})

describe('RespConnection', () => {
  it('pairs pipelined replies with their commands in order, even byte by byte', async () => {
    redis = await startFakeRedis()
    redis.trickle = true
    const connection = new RespConnection(await connectTo(redis.port))
    const replies = await Promise.all([
      connection.command(['SET', 'a', '1']),
      connection.command(['GET', 'a']),
      connection.command(['GET', 'missing']),
      connection.command(['DEL', 'a']),
      connection.command(['NOPE'])
    ])
    expect(replies).toEqual(['OK', '1', null, 1, new RespError("ERR unknown command 'NOPE'")])
    connection.end()
  })

  it('fails pending and later commands when the connection drops', async () => {
    redis = await startFakeRedis({ hangUpOn: 'GET' })
    const connection = new RespConnection(await connectTo(redis.port))
    expect(await connection.command(['PING'])).toBe('PONG')
    await expect(connection.command(['GET', 'a'])).rejects.toThrow(/closed/)
    await expect(connection.command(['PING'])).rejects.toThrow(/closed/)
  })

  it('times out a command without a reply and refuses further ones', async () => {
    // Its own end of each connection is closed by hand: nothing reads it, so it would never
    // notice the client going away and would hold the test process open.
    const accepted: Socket[] = []
    const silent = createServer(socket => void accepted.push(socket))
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', () => resolve()))
    try {
      const socket = await connectTo((silent.address() as { port: number }).port)
      const connection = new RespConnection(socket)
      await expect(connection.command(['PING'], 200)).rejects.toThrow(
        /no reply from Redis within 200 ms/
      )
      await expect(connection.command(['PING'])).rejects.toThrow(/no reply/)
      expect(socket.destroyed).toBe(true)
    } finally {
      for (const socket of accepted) socket.destroy()
      silent.close()
    }
  })
})

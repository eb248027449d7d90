// Item 4 of issue 7: the Redis the action builds, against the distribution's stock Redis on
// the same host in the same run. A Debian test host is provisioned by the action's own code
// (connectPinned + provisionRedis, as apply does over SSH); a second redis-server runs there
// with the package's pristine redis.conf on another port. redis-benchmark (installed with
// redis-server) runs inside the host against both in turn, interleaved, with a session-shaped
// load: SETEX and GET of 1, 2 and 4 KB values, 50 clients, no pipelining.
import { connectPinned } from '../src/ssh/connect.js'
import { generateEd25519KeyPair, renderCloudConfig } from '../src/ssh/keys.js'
import { provisionRedis } from '../src/redis/provision.js'
import { startTestHost, type TestHost } from '../__tests__/support/test-host.js'
import { median, spread, type Spread } from './lib/stats.js'
import { sshAfterOpen, type SshOpenResult } from './ssh-open.js'

const ADDRESS = '10.78.1.4'
const PASSWORD = 'bench-redis-password-0123456789'
const STOCK_PORT = 6380
export const SIZES = [1024, 2048, 4096]
/** Back-to-back pairs (provisioned, stock) per command and size, order alternating. */
export const ROUNDS = 12
export const REQUESTS = 20_000
const CLIENTS = 50
const KEYSPACE = 10_000
/** PHP's session.gc_maxlifetime default: the TTL every session key carries. */
const TTL = 1440
const SESSIONS = 10_000
const SESSION_BYTES = 2048
/** t3.medium: 4 GiB; maxmemory auto is 75 % of MemTotal (MemTotal is a little below 4 GiB). */
const T3_MEDIUM_BYTES = 4 * 2 ** 30

interface Target {
  name: 'provisioned' | 'stock'
  port: number
  auth: string
}

export interface BenchRow {
  config: 'provisioned' | 'stock'
  command: 'SETEX' | 'GET'
  valueBytes: number
  rps: number
  p50Ms: number
  p99Ms: number
  /** Every round's numbers, for the spread. */
  rounds: { rps: number; p50Ms: number; p99Ms: number }[]
}

/** Ratios of back-to-back pairs: ops/s provisioned / stock, latency stock / provisioned (above 1: provisioned faster). */
export interface RatioRow {
  command: string
  valueBytes: number
  rps: Spread
  p50: Spread
  p99: Spread
}

export interface MemoryUse {
  /** INFO is in @dangerous: the provisioned default user may not run it. */
  infoAllowed: boolean
  /** used_memory before and after writing the sessions. */
  before?: number
  after?: number
  perSession?: number
  /** Mean MEMORY USAGE of a session key (its own allocation, without the keyspace's overhead). */
  keyUsage: number
}

export interface RedisResults {
  /** Measured on the same host before provisioning (see ssh-open.ts). */
  sshOpen: SshOpenResult
  version: string
  os: string
  hostMaxmemoryBytes: number
  provisionSeconds: number
  load: {
    clients: number
    requests: number
    keyspace: number
    pipeline: number
    rounds: number
    sizes: number[]
  }
  rows: BenchRow[]
  ratios: RatioRow[]
  /**
   * Over every (command, size, round) pair — provisioned and stock ran back to back in each —
   * the geometric mean of the ratios and their range, which shows how much is noise.
   */
  overall: { rps: Spread; p50: Spread; p99: Spread; pairs: number }
  memory: {
    sessions: number
    sessionBytes: number
    ttl: number
    provisioned: MemoryUse
    stock: MemoryUse
    /**
     * Bytes per session: the INFO delta where INFO is allowed (the stock server: the same
     * redis-server binary and allocator, so the same bytes), checked by MEMORY USAGE being
     * equal on both.
     */
    perSession: number
    t3Medium: { maxmemoryBytes: number; sessions: number }
  }
}

async function must(host: TestHost, command: string, input?: string): Promise<string> {
  const r = await host.exec(command, { input, timeoutMs: 180_000 })
  if (r.code !== 0)
    throw new Error(
      `${command.slice(0, 80)} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`
    )
  return r.stdout
}

const cli = (t: Target, args: string) =>
  `${t.auth ? `REDISCLI_AUTH='${t.auth}' ` : ''}redis-cli -h 127.0.0.1 -p ${t.port} ${args}`

async function usedMemory(host: TestHost, t: Target): Promise<number | undefined> {
  const info = await must(host, cli(t, 'INFO memory'))
  const used = /^used_memory:(\d+)/m.exec(info)?.[1]
  return used === undefined ? undefined : Number(used)
}

/** Mean MEMORY USAGE (the key's own allocation) over a sample of the session keys. */
async function sampledUsage(host: TestHost, t: Target): Promise<number> {
  const out = await must(
    host,
    'bash -s',
    `for i in $(seq 0 100 9999); do ${cli(t, '')} MEMORY USAGE "$(printf 'PHPREDIS_SESSION:%032d' "$i")"; done`
  )
  const values = out.split('\n').filter(Boolean).map(Number)
  return values.reduce((a, b) => a + b, 0) / values.length
}

// 10,000 PHP-session-shaped keys (PHPREDIS_SESSION:<id>, 2 KB, TTL 1440 s) piped in as RESP.
const WRITE_SESSIONS = (t: Target) => `
awk -v n=${SESSIONS} -v size=${SESSION_BYTES} -v ttl=${TTL} 'BEGIN {
  v = ""; for (i = 0; i < size; i++) v = v "s"
  for (i = 0; i < n; i++) {
    k = sprintf("PHPREDIS_SESSION:%032d", i)
    printf "*4\\r\\n$5\\r\\nSETEX\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%d\\r\\n$%d\\r\\n%s\\r\\n", length(k), k, length(ttl ""), ttl, size, v
  }
}' | ${cli(t, '--pipe')}
`

async function memoryPerSession(host: TestHost, t: Target): Promise<MemoryUse> {
  const before = await usedMemory(host, t)
  const piped = await must(host, 'bash -s', WRITE_SESSIONS(t))
  if (!/errors: 0, replies: 10000/.test(piped))
    throw new Error(`writing sessions to ${t.name}: ${piped}`)
  const after = await usedMemory(host, t)
  const keyUsage = await sampledUsage(host, t)
  return {
    infoAllowed: before !== undefined,
    before,
    after,
    perSession:
      before !== undefined && after !== undefined ? (after - before) / SESSIONS : undefined,
    keyUsage
  }
}

function parseCsv(out: string): { rps: number; p50Ms: number; p99Ms: number } {
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const line = out.trim().split('\n').pop() ?? ''
  const cells = line.split('","').map(c => c.replace(/"/g, ''))
  const n = cells.slice(-7).map(Number)
  if (n.length !== 7 || n.some(Number.isNaN))
    throw new Error(`redis-benchmark said: ${out.slice(0, 300)}`)
  return { rps: n[0], p50Ms: n[3], p99Ms: n[5] }
}

async function benchmark(host: TestHost, t: Target, command: 'SETEX' | 'GET', size: number) {
  const value = 'v'.repeat(size)
  const args =
    command === 'SETEX' ? `SETEX bench:__rand_int__ ${TTL} ${value}` : 'GET bench:__rand_int__'
  const auth = t.auth ? `-a '${t.auth}' ` : ''
  const out = await must(
    host,
    `redis-benchmark -h 127.0.0.1 -p ${t.port} ${auth}-c ${CLIENTS} -n ${REQUESTS} -r ${KEYSPACE} -P 1 --csv ${args} 2>/dev/null`
  )
  return parseCsv(out)
}

export async function redisBench(progress: (s: string) => void): Promise<RedisResults> {
  const client = generateEd25519KeyPair('bench-operator')
  const hostKey = generateEd25519KeyPair('bench-redis-host')
  progress(`test host at ${ADDRESS}`)
  const host = await startTestHost({
    name: 'bench-redis',
    address: ADDRESS,
    prefix: 24,
    loginUser: 'ubuntu',
    userData: renderCloudConfig({ authorizedKeys: [client.publicKey], hostKey })
  })
  try {
    const sshOpen = await sshAfterOpen(
      host,
      { privateKey: client.privateKey, hostKeyFingerprint: hostKey.fingerprint },
      progress
    )
    progress('provisioning Redis over SSH (the action’s own code: connectPinned + provisionRedis)')
    const shell = await connectPinned({
      host: ADDRESS,
      username: 'ubuntu',
      privateKey: client.privateKey,
      hostKeyFingerprints: [hostKey.fingerprint],
      deadline: Date.now() + 120_000
    })
    const provisioned = await provisionRedis(shell, {
      privateIp: ADDRESS,
      port: 6379,
      password: PASSWORD,
      maxmemory: 'auto'
    }).finally(() => shell.close())

    progress('stock redis.conf from the package, second redis-server on port 6380')
    await must(
      host,
      'bash -s',
      `set -e
cd /tmp
deb=$(ls /var/cache/apt/archives/redis-server_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then apt-get download -q redis-server >/dev/null 2>&1; deb=$(ls /tmp/redis-server_*.deb | head -n1); fi
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/redis/redis.conf > /etc/redis/bench-stock.conf
chmod 644 /etc/redis/bench-stock.conf
install -d -o redis -g redis /var/lib/redis-bench-stock
systemd-run --quiet --unit=bench-redis-stock --property=User=redis --property=Group=redis \\
  /usr/bin/redis-server /etc/redis/bench-stock.conf --port ${STOCK_PORT} --daemonize no \\
  --supervised no --pidfile '' --logfile '' --dir /var/lib/redis-bench-stock
for i in $(seq 1 100); do redis-cli -p ${STOCK_PORT} ping 2>/dev/null | grep -q PONG && exit 0; sleep 0.1; done
echo "stock redis-server did not answer" >&2; exit 1
`
    )
    const targets: Target[] = [
      { name: 'provisioned', port: 6379, auth: PASSWORD },
      { name: 'stock', port: STOCK_PORT, auth: '' }
    ]

    progress(`memory: ${SESSIONS} sessions of ${SESSION_BYTES} bytes with a TTL, in each`)
    const memory = {
      provisioned: await memoryPerSession(host, targets[0]),
      stock: await memoryPerSession(host, targets[1])
    }

    // Many short pairs rather than a few long runs: on a shared machine the load changes from
    // second to second, and a pair run back to back sees nearly the same load.
    const raw = new Map<string, { rps: number; p50Ms: number; p99Ms: number }[]>()
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`redis-benchmark pairs ${round}/${ROUNDS}`)
      for (const size of SIZES)
        for (const command of ['SETEX', 'GET'] as const)
          for (const t of round % 2 ? targets : [...targets].reverse()) {
            const key = `${t.name}|${command}|${size}`
            raw.set(key, [...(raw.get(key) ?? []), await benchmark(host, t, command, size)])
          }
    }
    const rows: BenchRow[] = []
    for (const t of targets)
      for (const command of ['SETEX', 'GET'] as const)
        for (const size of SIZES) {
          const rounds = raw.get(`${t.name}|${command}|${size}`) ?? []
          rows.push({
            config: t.name,
            command,
            valueBytes: size,
            rps: median(rounds.map(r => r.rps)),
            p50Ms: median(rounds.map(r => r.p50Ms)),
            p99Ms: median(rounds.map(r => r.p99Ms)),
            rounds
          })
        }
    const find = (config: string, command: string, size: number) =>
      rows.find(
        r => r.config === config && r.command === command && r.valueBytes === size
      ) as BenchRow
    const ratios: RatioRow[] = []
    const all = { rps: [] as number[], p50: [] as number[], p99: [] as number[] }
    for (const command of ['SETEX', 'GET'])
      for (const size of SIZES) {
        const p = find('provisioned', command, size).rounds
        const s = find('stock', command, size).rounds
        const pairs = {
          rps: p.map((r, i) => r.rps / s[i].rps),
          p50: p.map((r, i) => s[i].p50Ms / r.p50Ms),
          p99: p.map((r, i) => s[i].p99Ms / r.p99Ms)
        }
        ratios.push({
          command,
          valueBytes: size,
          rps: spread(pairs.rps),
          p50: spread(pairs.p50),
          p99: spread(pairs.p99)
        })
        all.rps.push(...pairs.rps)
        all.p50.push(...pairs.p50)
        all.p99.push(...pairs.p99)
      }
    const maxmemory = 0.75 * T3_MEDIUM_BYTES
    const perSession = memory.provisioned.perSession ?? memory.stock.perSession ?? NaN
    const baseline = memory.provisioned.before ?? memory.stock.before ?? 0
    return {
      sshOpen,
      version: provisioned.version,
      os: provisioned.os,
      hostMaxmemoryBytes: provisioned.maxmemoryBytes,
      provisionSeconds: provisioned.durationMs / 1000,
      load: {
        clients: CLIENTS,
        requests: REQUESTS,
        keyspace: KEYSPACE,
        pipeline: 1,
        rounds: ROUNDS,
        sizes: SIZES
      },
      rows,
      ratios,
      overall: {
        rps: spread(all.rps),
        p50: spread(all.p50),
        p99: spread(all.p99),
        pairs: all.rps.length
      },
      memory: {
        sessions: SESSIONS,
        sessionBytes: SESSION_BYTES,
        ttl: TTL,
        ...memory,
        perSession,
        t3Medium: {
          maxmemoryBytes: maxmemory,
          sessions: Math.floor((maxmemory - baseline) / perSession)
        }
      }
    }
  } finally {
    await host.stop()
  }
}

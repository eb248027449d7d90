// Runs the benchmarks of issue 7 and writes bench/results.json and bench/results.md.
// `npm run bench` runs all four; `npm run bench -- cloud redis` runs some and keeps the other
// sections of the existing results.json as they were (each section carries its own date).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import * as prettier from 'prettier'
import { cloudBench } from './cloud.js'
import { describeMachine, type Machine } from './lib/machine.js'
import { scheduleTable, type ScheduleRow } from './lib/schedules.js'
import { redisBench } from './redis.js'
import { renderMarkdown } from './report.js'
import { startupBench } from './startup.js'

export const SECTIONS = ['cloud', 'startup', 'redis'] as const
export type SectionName = (typeof SECTIONS)[number]

export interface SectionRun<T> {
  measuredAt: string
  seconds: number
  /** 1-minute load average before and after: this machine may be shared with other work. */
  loadBefore: number
  loadAfter: number
  result?: T
  error?: string
}

export interface Results {
  machine: Machine
  totalSeconds: number
  cloud?: SectionRun<Awaited<ReturnType<typeof cloudBench>> & { schedules: ScheduleRow[] }>
  startup?: SectionRun<Awaited<ReturnType<typeof startupBench>>>
  redis?: SectionRun<Awaited<ReturnType<typeof redisBench>>>
}

const JSON_PATH = 'bench/results.json'
const MD_PATH = 'bench/results.md'

async function section<T>(
  name: string,
  work: (progress: (s: string) => void) => Promise<T>
): Promise<SectionRun<T>> {
  const started = Date.now()
  const loadBefore = loadavg()[0]
  const progress = (s: string) =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${name}: ${s}`)
  const done = (extra: Partial<SectionRun<T>>): SectionRun<T> => ({
    measuredAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    loadBefore,
    loadAfter: loadavg()[0],
    ...extra
  })
  try {
    return done({ result: await work(progress) })
  } catch (error) {
    console.error(`${name} failed:`, error)
    return done({ error: error instanceof Error ? error.message : String(error) })
  }
}

export async function main(args: string[]): Promise<number> {
  const unknown = args.filter(a => !SECTIONS.includes(a as SectionName))
  if (unknown.length > 0) {
    console.error(`unknown section(s) ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`)
    return 2
  }
  const chosen = new Set<SectionName>(args.length ? (args as SectionName[]) : SECTIONS)
  const previous: Partial<Results> =
    args.length && existsSync(JSON_PATH) ? JSON.parse(readFileSync(JSON_PATH, 'utf8')) : {}
  const started = Date.now()
  const results: Results = { ...previous, machine: describeMachine(), totalSeconds: 0 }
  console.log(
    `${results.machine.nproc} × ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node.action}`
  )
  if (chosen.has('cloud'))
    results.cloud = await section('cloud', async progress => ({
      ...(await cloudBench(progress)),
      schedules: scheduleTable([2, 10, 20, 40], 100)
    }))
  if (chosen.has('redis')) results.redis = await section('redis', redisBench)
  if (chosen.has('startup'))
    results.startup = await section('startup', progress => startupBench(process.cwd(), progress))
  results.totalSeconds = (Date.now() - started) / 1000
  writeFileSync(JSON_PATH, JSON.stringify(results, null, 2) + '\n')
  // Aligned tables, ready to paste into README (which prettier checks).
  const markdown = await prettier.format(renderMarkdown(results), {
    ...(await prettier.resolveConfig('README.md')),
    parser: 'markdown'
  })
  writeFileSync(MD_PATH, markdown)
  console.log(`\n${markdown}`)
  console.log(`Wrote ${JSON_PATH} and ${MD_PATH} in ${results.totalSeconds.toFixed(0)} s.`)
  const failed = [results.cloud, results.startup, results.redis].filter(s => s?.error)
  return failed.length ? 1 : 0
}

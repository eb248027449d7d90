// ssh2's bundled poly1305 loader reads the CommonJS __dirname, which an ES module bundle does
// not define; it must be set before ssh2 is evaluated, so index.ts imports this module first.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const scope = globalThis as { __dirname?: string }
scope.__dirname ??= dirname(fileURLToPath(import.meta.url))

// npm run demo — see scripts/demo/main.ts. This entry only makes the test harness importable
// outside jest first: the moto harness module also defines a jest suite helper, so it imports
// '@jest/globals', which throws when loaded anywhere but in a jest run. Resolving that import
// to a stub has to happen before the harness is linked, hence the dynamic import below.
import { register } from 'node:module'

// The harness's own SDK clients run on the local Node (the bundle itself runs on Node 24); the
// SDK's notice about Node 20 is not news to anyone watching the demo.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const stub = [
  'const jestOnly = name => () => { throw new Error(`${name} works only inside a jest run`) }',
  ...[
    'afterAll',
    'afterEach',
    'beforeAll',
    'beforeEach',
    'describe',
    'expect',
    'it',
    'jest',
    'test'
  ].map(name => `export const ${name} = jestOnly('${name}')`)
].join('\n')
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === '@jest/globals')
    return { url: ${JSON.stringify(`data:text/javascript,${encodeURIComponent(stub)}`)}, shortCircuit: true }
  return next(specifier, context)
}`
register(`data:text/javascript,${encodeURIComponent(hooks)}`)

await import('./demo/main.js')

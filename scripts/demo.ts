// npm run demo — the whole job locally; see scripts/demo/main.ts.

// The harness's own SDK clients run on the local Node (the bundle itself runs on Node 24); the
// SDK's notice about Node 20 is not news to anyone watching the demo.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

await import('./demo/main.js')

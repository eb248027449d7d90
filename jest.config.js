// ESM all the way: @actions/core 3 and @actions/github 9 ship only ES modules, so the tests run
// under Node's VM modules (NODE_OPTIONS=--experimental-vm-modules, set by the npm scripts).
// The tests run on the machine's Node (20); the action itself runs on Node 24, so the AWS SDK's
// notice about Node 20 is noise here, printed once per test file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const esm = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }]
  },
  testEnvironment: 'node'
}

export default {
  projects: [
    {
      ...esm,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/integration/']
    },
    {
      ...esm,
      displayName: 'integration',
      testMatch: ['<rootDir>/__tests__/integration/**/*.test.ts']
    }
  ],
  reporters: [
    'default',
    '<rootDir>/__tests__/support/skip-reporter.js',
    '<rootDir>/__tests__/support/progress-reporter.js'
  ],
  // A harness handle left open must not hold a finished run until CI's time limit; the progress
  // reporter names any such handle.
  forceExit: true
}

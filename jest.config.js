// ESM all the way: @actions/core 3 and @actions/github 9 ship only ES modules, so the tests run
// under Node's VM modules (NODE_OPTIONS=--experimental-vm-modules, set by the npm scripts).
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
  reporters: ['default', '<rootDir>/__tests__/support/skip-reporter.js']
}

/** One Jest run for every workspace; the real local servers start once, in globalSetup. */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'commonjs' } },
    ],
  },
  testMatch: [
    '<rootDir>/{packages,services}/*/test/**/*.test.ts',
    '<rootDir>/infra/test/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
  ],
  modulePathIgnorePatterns: ['<rootDir>/.cache/', '<rootDir>/.local/'],
  globalSetup: '<rootDir>/packages/testkit/src/globalSetup.ts',
  globalTeardown: '<rootDir>/packages/testkit/src/globalTeardown.ts',
  testTimeout: 60000,
};

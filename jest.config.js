/**
 * Three tiers, chosen by file name (README "Tests"):
 * - unit: `*.unit.test.ts`: no servers, no build (`@outbox/*` packages map to their sources);
 * - e2e: `*.e2e.test.ts`: several service processes together (built services);
 * - component: every other `*.test.ts`: one service against the real local servers.
 * The local stack starts once per run, in the component and e2e projects' globalSetup; a run of
 * only the unit project never starts it.
 */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'commonjs' } },
  ],
};
const roots = ['<rootDir>/{packages,services}/*/test/**/', '<rootDir>/infra/test/**/', '<rootDir>/test/**/'];
const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform,
  modulePathIgnorePatterns: ['<rootDir>/.cache/', '<rootDir>/.local/'],
};
const withLocalStack = {
  globalSetup: '<rootDir>/packages/testkit/src/globalSetup.ts',
  globalTeardown: '<rootDir>/packages/testkit/src/globalTeardown.ts',
};

module.exports = {
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: roots.map((root) => `${root}*.unit.test.ts`),
      moduleNameMapper: {
        '^@outbox/(shared|local-stack)$': '<rootDir>/packages/$1/src/index.ts',
      },
    },
    {
      ...common,
      ...withLocalStack,
      displayName: 'component',
      testMatch: roots.map((root) => `${root}*.test.ts`),
      testPathIgnorePatterns: ['/node_modules/', '\\.unit\\.test\\.ts$', '\\.e2e\\.test\\.ts$'],
    },
    {
      ...common,
      ...withLocalStack,
      displayName: 'e2e',
      testMatch: roots.map((root) => `${root}*.e2e.test.ts`),
    },
  ],
};

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', 'scripts', 'requireNode.cjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { nodeVersionProblem } = require(script) as { nodeVersionProblem: (version: string) => string | undefined };

describe('root scripts on an old Node', () => {
  test('When the Node version is below 22.18, then the guard names the minimum and how to get Node 24, and accepts 22.18 and later', () => {
    for (const old of ['20.20.2', 'v18.19.0', '22.17.1', '22.6.0']) {
      expect(nodeVersionProblem(old)).toMatch(
        /^Node 22\.18\.0 or later is needed \(this is [\d.]+\): install Node 24 LTS/,
      );
    }
    for (const fine of ['22.18.0', '23.0.0', '24.21.0', 'v25.1.0']) expect(nodeVersionProblem(fine)).toBeUndefined();
  });

  test('When the guard runs on the Node that runs the tests, then it exits 0 silently', () => {
    expect(execFileSync(process.execPath, [script], { encoding: 'utf8' })).toBe('');
  });

  test('When a root script runs on the machine Node (if older than 22.18), then it stops with one clear line', () => {
    // The machine's own Node (Debian's /usr/bin/node) is what a user without Node 24 first runs.
    const machineNode = ['/usr/bin/node', '/usr/local/bin/node'].find((candidate) => existsSync(candidate));
    const version = machineNode ? spawnSync(machineNode, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
    const expectedProblem = version ? nodeVersionProblem(version) : undefined;
    const run = machineNode ? spawnSync(machineNode, [script], { encoding: 'utf8' }) : undefined;
    expect(run?.status ?? 0).toBe(expectedProblem ? 1 : 0);
    expect((run?.stderr ?? '').trim()).toBe(expectedProblem ?? '');
  });
});

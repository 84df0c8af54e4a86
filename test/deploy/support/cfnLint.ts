import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** Where `.ci/run` installs cfn-lint; `CFN_LINT` names another binary. */
const CFN_LINT = process.env.CFN_LINT ?? path.join(root, '.cache/venv/bin/cfn-lint');

interface Match {
  Level: string;
  Message: string;
  Filename: string;
  Rule: { Id: string };
  Location: { Start: { LineNumber: number } };
}

/**
 * Runs AWS's CloudFormation linter on the templates and returns its errors (warnings and
 * informational findings are not failures), each as `file:line RULE message`.
 */
export function cfnLintErrors(templates: string[]): string[] {
  if (!fs.existsSync(CFN_LINT)) {
    throw new Error(
      `cfn-lint is not installed at ${CFN_LINT}. .ci/run installs it; by hand: ` +
        "python3 -m venv .cache/venv && .cache/venv/bin/pip install 'cfn-lint==1.58.0' (or set CFN_LINT)",
    );
  }
  const result = spawnSync(CFN_LINT, ['--format', 'json', '--', ...templates], {
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  // Exit status bits: 2 errors, 4 warnings, 8 informational; anything else means cfn-lint failed.
  if (result.status === null || (result.status & ~(2 | 4 | 8)) !== 0) {
    throw new Error(`cfn-lint failed (status ${result.status}): ${result.stderr}`);
  }
  const matches = JSON.parse(result.stdout || '[]') as Match[];
  return matches
    .filter((match) => match.Level === 'Error')
    .map(
      (match) =>
        `${path.relative(root, match.Filename)}:${match.Location.Start.LineNumber} ${match.Rule.Id} ${match.Message}`,
    );
}

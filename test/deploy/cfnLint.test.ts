import fs from 'node:fs';
import path from 'node:path';
import { cfnLintErrors } from './support/cfnLint';

const copilot = path.resolve(__dirname, '../../copilot');

/** Every addon template: `copilot/<service or environments>/addons/*.yml`, without Copilot's parameters file. */
const templates = fs
  .readdirSync(copilot)
  .map((dir) => path.join(copilot, dir, 'addons'))
  .filter((dir) => fs.existsSync(dir))
  .flatMap((dir) =>
    fs
      .readdirSync(dir)
      .filter((file) => /\.ya?ml$/.test(file) && file !== 'addons.parameters.yml')
      .map((file) => path.join(dir, file)),
  );

test('When cfn-lint checks every Copilot addon template, then it reports no errors', () => {
  expect(templates.length).toBeGreaterThanOrEqual(6);
  expect(cfnLintErrors(templates)).toEqual([]);
});

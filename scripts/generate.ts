/**
 * Writes every generated file from its single source; run `npm run generate` (builds first):
 *   - the event contract's JSON Schema files (`packages/shared/src/events/*.schema.json`), from
 *     the zod schemas in packages/shared;
 *   - the configuration tables of the READMEs (between `<!-- config…:start -->` and
 *     `<!-- config…:end -->`), from each config schema's settings and their `.describe(...)`.
 * Tests fail while a generated file is stale (packages/shared/test/generatedFiles.unit.test.ts and
 * test/tooling/configReference.unit.test.ts). With `--check` it writes nothing and exits 1
 * when a file would change.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { z } from 'zod';
import {
  commonSettings,
  configReferenceTable,
  eventJsonSchemaFiles,
  kafkaSettings,
  replaceGeneratedSection,
} from '@outbox/shared';
import { configSchema as orderApiConfig } from '../services/order-api/dist/config.js';
import { configSchema as relayConfig } from '../services/outbox-relay/dist/config.js';
import { configSchema as notifierConfig } from '../services/notifier/dist/config.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const shared = [...Object.keys(commonSettings), ...Object.keys(kafkaSettings)];

/** Each README section and the table it holds. */
const readmeSections: { file: string; section: string; table: () => string }[] = [
  { file: 'README.md', section: 'config:common', table: () => configReferenceTable(z.object(commonSettings)) },
  { file: 'README.md', section: 'config:kafka', table: () => configReferenceTable(z.object(kafkaSettings)) },
  {
    file: 'services/order-api/README.md',
    section: 'config',
    table: () => configReferenceTable(orderApiConfig, { exclude: shared }),
  },
  {
    file: 'services/outbox-relay/README.md',
    section: 'config',
    table: () => configReferenceTable(relayConfig, { exclude: shared }),
  },
  {
    file: 'services/notifier/README.md',
    section: 'config',
    table: () => configReferenceTable(notifierConfig, { exclude: shared }),
  },
];

async function formatted(file: string, text: string): Promise<string> {
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}

/** Every generated file's path and its up-to-date content (formatted as `npm run lint` wants it). */
async function generatedFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [name, schema] of Object.entries(eventJsonSchemaFiles())) {
    const file = join(root, 'packages/shared/src/events', name);
    files.set(file, await formatted(file, JSON.stringify(schema, null, 2)));
  }
  for (const { file, section, table } of readmeSections) {
    const path = join(root, file);
    const current = files.get(path) ?? (await readFile(path, 'utf8'));
    files.set(path, replaceGeneratedSection(current, section, table()));
  }
  for (const file of new Set(readmeSections.map(({ file }) => join(root, file)))) {
    files.set(file, await formatted(file, files.get(file) as string));
  }
  return files;
}

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [file, content] of await generatedFiles()) {
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current === content) continue;
  stale.push(relative(root, file));
  if (!check) await writeFile(file, content);
}
if (check && stale.length > 0) {
  process.stderr.write(`Stale generated files (run \`npm run generate\`):\n  ${stale.join('\n  ')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(stale.length > 0 ? `Wrote ${stale.join(', ')}\n` : 'Generated files are up to date\n');
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  commonSettings,
  configReferenceTable,
  kafkaSettings,
  markdownTableCells,
  readGeneratedSection,
} from '@outbox/shared';
import { configSchema as orderApiSchema } from '../../services/order-api/src/config';
import { configSchema as relaySchema } from '../../services/outbox-relay/src/config';
import { configSchema as notifierSchema } from '../../services/notifier/src/config';

const repoRoot = join(__dirname, '..', '..');
const shared = [...Object.keys(commonSettings), ...Object.keys(kafkaSettings)];

describe.each<[string, z.ZodType]>([
  ['order-api', orderApiSchema],
  ['outbox-relay', relaySchema],
  ['notifier', notifierSchema],
])('%s configuration reference', (service, schema) => {
  test("When the README's configuration table is generated from the config schema, then the committed table holds the same rows (else: run npm run generate)", () => {
    const readmePath = `services/${service}/README.md`;
    const readme = readFileSync(join(repoRoot, readmePath), 'utf8');
    const committed = markdownTableCells(readGeneratedSection(readme, 'config'));
    const generated = markdownTableCells(configReferenceTable(schema, { exclude: shared }));
    const stale =
      JSON.stringify(committed) === JSON.stringify(generated)
        ? []
        : [`${readmePath} configuration table is stale: run \`npm run generate\``];
    expect(stale).toEqual([]);
    expect(generated.length).toBeGreaterThan(3);
  });
});

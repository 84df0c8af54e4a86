import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  commonSettings,
  configReferenceTable,
  kafkaSettings,
  markdownTableCells,
  readGeneratedSection,
} from '@outbox/shared';
import { configSchema } from '../src/config';

describe('order-api configuration reference', () => {
  test("When the README's configuration table is generated from the config schema, then the committed table holds the same rows (else: run npm run generate)", () => {
    const readme = readFileSync(join(__dirname, '../README.md'), 'utf8');
    const shared = [...Object.keys(commonSettings), ...Object.keys(kafkaSettings)];
    const committed = markdownTableCells(readGeneratedSection(readme, 'config'));
    const generated = markdownTableCells(configReferenceTable(configSchema, { exclude: shared }));
    const stale =
      JSON.stringify(committed) === JSON.stringify(generated)
        ? []
        : ['services/order-api/README.md configuration table is stale: run `npm run generate`'];
    expect(stale).toEqual([]);
    expect(generated.length).toBeGreaterThan(3);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  commonSettings,
  configReferenceTable,
  eventJsonSchemaFiles,
  kafkaSettings,
  markdownTableCells,
  readGeneratedSection,
} from '../src';

const eventsDir = join(__dirname, '../src/events');
const rootReadme = join(__dirname, '../../../README.md');

describe('files generated from packages/shared', () => {
  test('When the event JSON Schema files are generated from the zod schemas, then each committed file equals its generated content (else: run npm run generate)', () => {
    const stale = Object.entries(eventJsonSchemaFiles())
      .filter(([name, schema]) => {
        let committed: unknown;
        try {
          committed = JSON.parse(readFileSync(join(eventsDir, name), 'utf8'));
        } catch {
          return true;
        }
        return JSON.stringify(committed) !== JSON.stringify(schema);
      })
      .map(([name]) => `packages/shared/src/events/${name} is stale: run \`npm run generate\``);
    expect(stale).toEqual([]);
    expect(Object.keys(eventJsonSchemaFiles()).sort()).toEqual([
      'OrderCancelled.v1.schema.json',
      'OrderCreated.v1.schema.json',
      'orderEventEnvelope.schema.json',
    ]);
  });

  test("When the root README's shared and Kafka settings tables are generated from their schemas, then the committed tables hold the same rows (else: run npm run generate)", () => {
    const readme = readFileSync(rootReadme, 'utf8');
    const stale = [
      { section: 'config:common', schema: z.object(commonSettings) },
      { section: 'config:kafka', schema: z.object(kafkaSettings) },
    ]
      .filter(
        ({ section, schema }) =>
          JSON.stringify(markdownTableCells(readGeneratedSection(readme, section))) !==
          JSON.stringify(markdownTableCells(configReferenceTable(schema))),
      )
      .map(({ section }) => `README.md <!-- ${section} --> table is stale: run \`npm run generate\``);
    expect(stale).toEqual([]);
  });
});

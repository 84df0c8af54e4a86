import { z } from 'zod';
import { envelopeSchema } from './OrderEventEnvelope';
import { orderEventSchema, orderEventVersions } from './orderEventPayloads';

type JsonObject = Record<string, unknown>;

const SCHEMA_BASE_URI = 'https://schemas.example.com/outbox/';

/** JSON Schema 2020-12 of a zod schema as a reader sees its input, dialect and `$id` first. */
export function toEventJsonSchema(schema: z.ZodType, id?: string): JsonObject {
  const { $schema, title, description, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
  }) as JsonObject;
  const head = { $schema, $id: id, title, description };
  return { ...Object.fromEntries(Object.entries(head).filter(([, value]) => value !== undefined)), ...rest };
}

/** `OrderCreated` → `order-created`. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter, at: number) => `${at === 0 ? '' : '-'}${letter.toLowerCase()}`);
}

/**
 * The JSON Schema files of the event contract, generated from the zod schemas (the single
 * source), by file name under `packages/shared/src/events/`: the envelope, and the whole event of
 * every type and payload version. `npm run generate` writes them; a test fails when one is stale.
 */
export function eventJsonSchemaFiles(): Record<string, JsonObject> {
  const files: Record<string, JsonObject> = {
    'orderEventEnvelope.schema.json': toEventJsonSchema(
      envelopeSchema,
      `${SCHEMA_BASE_URI}order-event-envelope.v1.json`,
    ),
  };
  for (const { eventType, schemaVersion } of orderEventVersions()) {
    files[`${eventType}.v${schemaVersion}.schema.json`] = toEventJsonSchema(
      orderEventSchema(eventType, schemaVersion),
      `${SCHEMA_BASE_URI}${kebab(eventType)}.v${schemaVersion}.json`,
    );
  }
  return files;
}

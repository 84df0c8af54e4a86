import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { readTableTemplates, type TableTemplate } from './readTableTemplates';
import { pollUntil } from '@outbox/shared';

/** Options for {@link ensureTables}. */
export interface EnsureTablesOptions {
  /** A client for the target endpoint (DynamoDB Local, usually). */
  client: DynamoDBClient;
  /** Table name per base name (`{ Orders: 'it-42-Orders' }`); wins over `tablePrefix`. */
  tableNames?: Partial<Record<string, string>>;
  /** Prefix for the base name when `tableNames` has no entry: `test-1a2b-` gives `test-1a2b-Orders`. */
  tablePrefix?: string;
  /** The tables to create (default: {@link readTableTemplates} of `<repo>/copilot`). */
  templates?: TableTemplate[];
  /** How long to wait for each table to become ACTIVE, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function ensureTable(
  client: DynamoDBClient,
  template: TableTemplate,
  tableName: string,
  timeoutMs: number,
): Promise<void> {
  if (!(await describe(client, tableName))) {
    try {
      await client.send(new CreateTableCommand({ ...template.createTableInput, TableName: tableName }));
    } catch (error) {
      // Someone else created it between our describe and create: fine.
      if (!(error instanceof ResourceInUseException)) {
        throw new Error(
          `Cannot create table ${tableName} (${template.logicalId} in ${template.sourceFile}): ${String(error)}`,
          {
            cause: error,
          },
        );
      }
    }
  }
  await pollUntil(async () => (await describe(client, tableName))?.TableStatus === 'ACTIVE', {
    what: `table ${tableName} to become ACTIVE`,
    timeoutMs,
  });
  if (template.ttlAttribute) {
    const current = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const status = current.TimeToLiveDescription?.TimeToLiveStatus;
    if (status !== 'ENABLED' && status !== 'ENABLING') {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: template.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

/**
 * Creates every table from the templates that does not exist yet, waits until it is ACTIVE and
 * enables its TTL. Idempotent: an existing table is kept as it is (only a missing TTL setting is
 * added), and losing a creation race to another process is fine.
 *
 * @returns The actual table name per base name: `{ Orders: 'Orders', OrderOutbox: 'OrderOutbox', ... }`.
 */
export async function ensureTables(options: EnsureTablesOptions): Promise<Record<string, string>> {
  const templates = options.templates ?? readTableTemplates();
  const names: Record<string, string> = {};
  for (const template of templates) {
    names[template.baseName] =
      options.tableNames?.[template.baseName] ?? `${options.tablePrefix ?? ''}${template.baseName}`;
  }
  await Promise.all(
    templates.map((template) =>
      ensureTable(options.client, template, names[template.baseName]!, options.timeoutMs ?? 30_000),
    ),
  );
  return names;
}

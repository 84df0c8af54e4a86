import type { MiddlewareStack } from '@smithy/types';

/** A command whose middleware can be extended (every AWS SDK v3 command). */
interface ExtensibleCommand {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any command's own input and output types
  readonly middlewareStack: MiddlewareStack<any, any>;
}

/** `{}`: what the SDK's deserializer is left to read once the body was taken (see {@link sendForJsonBody}). */
const EMPTY_OBJECT = new TextEncoder().encode('{}');

/**
 * Sends `command` and returns the successful response's JSON body as `JSON.parse` gives it, in
 * the service's wire format (base64 strings for blobs, epoch seconds for timestamps), without the
 * SDK's typed deserialization.
 *
 * Why: GetRecords answers carry up to 1000 records, and the SDK's schema-driven deserializer
 * walks every member of every record (every attribute value of a DynamoDB image, a validated
 * base64 decode of every Kinesis blob): measured at 30 to 70 µs of CPU per record, more than the
 * rest of the relay's work on it. The body is taken inside the SDK's own stack, after signing,
 * retries and timeouts did their work, so a failure still reaches the caller as the SDK's typed
 * error: only a 2xx body is taken, and the deserializer then reads `{}`.
 */
export async function sendForJsonBody<T>(
  client: { send(command: never): Promise<unknown> },
  command: ExtensibleCommand,
): Promise<T> {
  let body: T | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown };
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        body = JSON.parse(await bodyText(response.body)) as T;
        response.body = EMPTY_OBJECT;
      }
      return result;
    },
    // Below the SDK's deserializer (priority normal), so this sees the raw response first.
    { step: 'deserialize', priority: 'low', name: 'outboxRelayJsonBody' },
  );
  const output = await (client.send as (command: ExtensibleCommand) => Promise<unknown>)(command);
  // A client that does not run the command's stack (recorded answers in tests) answers with the body itself.
  return body ?? (output as T);
}

/** The whole body as UTF-8 text: a Node stream (the node HTTP handler) or bytes. */
async function bodyText(body: unknown): Promise<string> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(
      typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
  }
  return Buffer.concat(chunks).toString('utf8');
}

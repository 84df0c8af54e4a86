import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen } from '@outbox/shared';

/**
 * A pass-through HTTP proxy in front of DynamoDB Local that counts the operations it forwards
 * (by `X-Amz-Target`) and can freeze: a frozen proxy accepts requests and never answers, as a
 * hung endpoint does. The service under test talks to the real DynamoDB through it.
 */
export async function startDynamoDbProxy(target: string) {
  const upstream = new URL(target);
  const counts = new Map<string, number>();
  const held: ServerResponse[] = [];
  let frozen = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    if (frozen) {
      req.resume();
      held.push(res);
      return;
    }
    const forward = request(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** How many requests of `operation` (e.g. `BatchGetItem`) arrived so far. */
    count: (operation: string) => counts.get(operation) ?? 0,
    freeze: () => {
      frozen = true;
    },
    stop: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await closeServer(server);
    },
  };
}

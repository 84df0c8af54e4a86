/**
 * A small TCP proxy on loopback that forwards bytes both ways and holds each chunk for a fixed
 * time in each direction, so every request/response round trip through it gains `delayMs`
 * (half on the way there, half on the way back) — a stand-in for the round trip to a cloud
 * service. Order within a connection is kept; chunks are never merged or split.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Options for {@link startDelayProxy}. */
export interface DelayProxyOptions {
  /** Where to forward to. */
  targetHost: string;
  targetPort: number;
  /** Added to each round trip, in ms: each direction holds a chunk for half of it. */
  delayMs: number;
  /** Port to listen on (default: a free one). */
  port?: number;
}

/** A running proxy. */
export interface DelayProxy {
  port: number;
  /** `127.0.0.1:<port>` */
  address: string;
  /** Bytes forwarded, both directions. */
  bytes(): number;
  close(): Promise<void>;
}

/** Forwards `from` to `to`, each chunk `holdMs` later than it arrived, in arrival order. */
function forwardDelayed(from: Socket, to: Socket, holdMs: number, count: (bytes: number) => void): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      count(chunk.length);
      if (!to.destroyed && !to.write(chunk)) {
        // Back-pressure: stop reading until the other side drained.
        from.pause();
        to.once('drain', () => from.resume());
      }
    }
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0]!.due - performance.now()));
    else if (ended && !to.destroyed) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + holdMs, chunk });
    timer ??= setTimeout(flush, holdMs);
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && timer === undefined && !to.destroyed) to.end();
  });
}

/** Starts the proxy; resolves once it listens. */
export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  let forwarded = 0;
  const count = (bytes: number) => (forwarded += bytes);
  const hold = options.delayMs / 2;
  const server: Server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: options.targetHost, port: options.targetPort, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    forwardDelayed(client, upstream, hold, count);
    forwardDelayed(upstream, client, hold, count);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    address: `127.0.0.1:${port}`,
    bytes: () => forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

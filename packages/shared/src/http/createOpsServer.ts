import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** Options for {@link createOpsServer}. */
export interface OpsServerOptions {
  registry: Registry;
  /** True while the service can do its work (its dependencies answer). */
  isReady: () => Promise<boolean> | boolean;
  /**
   * Why the process should be replaced (it is stuck), or `undefined` while it is healthy
   * (the default): `/healthz` then answers 503 with the reason.
   */
  unhealthyReason?: () => string | undefined;
}

/**
 * The operations endpoints of a worker service: `/healthz` (the process runs and is not stuck), `/readyz`
 * (200 only when `isReady` says so) and `/metrics` (Prometheus text format).
 */
export function createOpsServer(options: OpsServerOptions): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') {
      const reason = options.unhealthyReason?.();
      if (reason === undefined) return send(200, 'application/json', '{"status":"ok"}\n');
      return send(503, 'application/json', `${JSON.stringify({ status: 'unhealthy', reason })}\n`);
    }
    if (path === '/readyz') {
      Promise.resolve()
        .then(() => options.isReady())
        .then(
          (ready) =>
            ready
              ? send(200, 'application/json', '{"status":"ready"}\n')
              : send(503, 'application/json', '{"status":"not ready"}\n'),
          () => send(503, 'application/json', '{"status":"not ready"}\n'),
        );
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => send(200, options.registry.contentType, text),
        (error: Error) => send(500, 'text/plain', `${error.message}\n`),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
}

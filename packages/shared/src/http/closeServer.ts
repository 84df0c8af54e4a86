import type { Server } from 'node:http';

/** Stops accepting connections and resolves once open ones have closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive connections that are idle would hold close() open; in-flight ones finish.
    server.closeIdleConnections();
  });
}

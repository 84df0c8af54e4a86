import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SERVICE_ALLOCATOR_ENV, SERVICE_NODE_FLAGS } from '@outbox/shared';
import { waitFor } from './waitFor';

const repoRoot = join(__dirname, '..', '..', '..');

/** A free TCP port on loopback, picked by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A service running as its own process, as in production: `node --import ./dist/instrumentation.js dist/main.js`. */
export interface ServiceProcess {
  port: number;
  /** Port of `/healthz`, `/readyz`, `/metrics`: order-api's own ops port, `port` for the workers. */
  opsPort: number;
  child: ChildProcess;
  output: string[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL and resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `services/<name>/dist/main.js`, its tracing entry loaded first, with `env` (and `nodeArgs`, e.g. a heap limit) and waits
 * until `/readyz` (on the ops port) answers 200.
 */
export async function startServiceProcess(
  name: 'order-api' | 'outbox-relay' | 'notifier',
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const port = await freePort();
  // order-api serves its ops endpoints apart from the API (OPS_PORT); the workers on PORT.
  let opsPort = port;
  while (name === 'order-api' && opsPort === port) opsPort = await freePort();
  const ports = name === 'order-api' ? { PORT: String(port), OPS_PORT: String(opsPort) } : { PORT: String(port) };
  const dist = join(repoRoot, 'services', name, 'dist');
  const child = spawn(
    process.execPath,
    [...SERVICE_NODE_FLAGS, ...nodeArgs, '--import', join(dist, 'instrumentation.js'), join(dist, 'main.js')],
    {
      // The image's memory settings (Dockerfile), so the tests run what is deployed.
      env: { ...process.env, ...SERVICE_ALLOCATOR_ENV, LOG_LEVEL: 'warn', ...env, ...ports },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${output.join('')}`);
        const response = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
        return response.status === 200;
      },
      { timeoutMs: 30000, what: `${name} to be ready` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output.join('')}`, { cause: error });
  }
  return {
    port,
    opsPort,
    child,
    output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The services as child processes (`node --import dist/instrumentation.js dist/main.js`, as
 * deployed), each with its log file, for `npm run chaos` and `npm run bench`. A crash of the
 * runner kills whatever it started (by pid, its own children only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pollUntil as waitFor, SERVICE_ALLOCATOR_ENV, SERVICE_NODE_FLAGS } from '@outbox/shared';
import type { ChaosService } from './chaos/runChaos.ts';

const repoRoot = join(import.meta.dirname, '..');

/** A service process: what the chaos run signals, plus its pid (for RSS). */
export type ServiceProcess = ChaosService;

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

const children = new Set<ChildProcess>();
const interruptCleanups: (() => Promise<unknown>)[] = [];

/** Work to do before exiting on Ctrl-C or SIGTERM (stop servers of the run's own, delete streams). */
export function onInterrupt(cleanup: () => Promise<unknown>): void {
  interruptCleanups.push(cleanup);
}

const exitAfterCleanup = (code: number) => () => {
  const bounded = new Promise((resolve) => setTimeout(resolve, 30_000).unref());
  void Promise.race([Promise.allSettled(interruptCleanups.map((cleanup) => cleanup())), bounded]).finally(() =>
    process.exit(code),
  );
};
// A crash of the runner must not leave services behind: they are our children, killed by pid.
process.once('SIGINT', exitAfterCleanup(130));
process.once('SIGTERM', exitAfterCleanup(143));
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts a service with `env` on top of the current environment; resolves once `/readyz` answers 200. */
export async function startService(
  kind: 'order-api' | 'outbox-relay' | 'notifier',
  name: string,
  env: Record<string, string>,
  logDir: string,
): Promise<ServiceProcess> {
  const port = await freePort();
  let opsPort = port;
  while (kind === 'order-api' && opsPort === port) opsPort = await freePort();
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  // Tracing entry first and the image's memory settings, as deployed (README, Tracing; Dockerfile).
  const dist = join(repoRoot, 'services', kind, 'dist');
  const args = [...SERVICE_NODE_FLAGS, '--import', join(dist, 'instrumentation.js'), join(dist, 'main.js')];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...SERVICE_ALLOCATOR_ENV,
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
      ...(kind === 'order-api' ? { OPS_PORT: String(opsPort) } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: see ${logDir}/${name}.log`);
      return (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${name} to be ready` },
  );
  const dead = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    port,
    opsPort,
    child,
    kill: async () => {
      if (!dead()) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (dead()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

import type { ManagedProcess } from './ManagedProcess';
import { portIsOpen } from './portIsOpen';
import type { ServerHandle } from './ServerHandle';
import { pollUntil } from '@outbox/shared';

/** Settings every server manager shares. */
export interface LocalServerOptions {
  /** Progress messages ("Starting Kafka on port 9092"); silent by default. */
  log?: (message: string) => void;
  /** How long `start()` waits for the server to answer, in milliseconds. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it sends SIGKILL, in milliseconds. */
  stopGraceMs?: number;
  /**
   * Run the server in its own process group, so a terminal's Ctrl-C (sent to the whole
   * foreground group) does not stop it before its owner stops the services that use it.
   */
  detached?: boolean;
}

/**
 * The start/stop life cycle the server managers share: reuse a server that already answers,
 * otherwise launch a child and poll a real protocol call until it answers; stop with SIGTERM,
 * then SIGKILL, and wait until every port is free. Calls are serialized, so a `stop()` during
 * `start()` waits for the start to settle.
 */
export abstract class LocalServer implements ServerHandle {
  abstract readonly name: string;
  readonly port: number;
  private reusedServer = false;
  private process: ManagedProcess | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  protected readonly log: (message: string) => void;
  private readonly startTimeoutMs: number;
  private readonly stopGraceMs: number;
  /** See {@link LocalServerOptions.detached}. */
  protected readonly detached: boolean;

  protected constructor(port: number, options: LocalServerOptions, defaults: { startTimeoutMs: number }) {
    this.port = port;
    this.log = options.log ?? (() => undefined);
    this.startTimeoutMs = options.startTimeoutMs ?? defaults.startTimeoutMs;
    this.stopGraceMs = options.stopGraceMs ?? 15_000;
    this.detached = options.detached ?? false;
  }

  get reused(): boolean {
    return this.reusedServer;
  }

  get pid(): number | undefined {
    return this.process?.running ? this.process.pid : undefined;
  }

  abstract readonly logFiles: readonly string[];

  /** Every port the server listens on; `stop()` waits until all are free. */
  protected ports(): number[] {
    return [this.port];
  }

  /** One protocol call with a short timeout; true when the server answers as expected. */
  protected abstract isHealthy(): Promise<boolean>;

  /** Checks prerequisites, prepares files and spawns the child process. */
  protected abstract launch(): Promise<ManagedProcess>;

  start(): Promise<void> {
    return this.serialize(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  private serialize(action: () => Promise<void>): Promise<void> {
    const next = this.queue.then(action, action);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    if (this.process?.running || this.reusedServer) return;
    if (await this.isHealthy().catch(() => false)) {
      this.reusedServer = true;
      this.log(`${this.name} already answers on port ${this.port}: reusing it (it will not be stopped)`);
      return;
    }
    for (const port of this.ports()) {
      if (await portIsOpen(port)) {
        throw new Error(
          `Port ${port} is in use by something that is not ${this.name}: stop it or choose another port.`,
        );
      }
    }
    this.log(`Starting ${this.name} on port ${this.port}`);
    const started = Date.now();
    const child = await this.launch();
    this.process = child;
    try {
      await pollUntil(() => this.isHealthy(), {
        what: `${this.name} to answer on port ${this.port}`,
        timeoutMs: this.startTimeoutMs,
        intervalMs: 200,
        abortIf: () => child.exitError(),
      });
    } catch (error) {
      await this.doStop();
      throw error;
    }
    this.log(`${this.name} is up on port ${this.port} (${Date.now() - started} ms)`);
  }

  private async doStop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    await child.stop(this.stopGraceMs);
    this.process = undefined;
    for (const port of this.ports()) {
      await pollUntil(async () => !(await portIsOpen(port)), {
        what: `port ${port} to be free after ${this.name} stopped`,
        timeoutMs: 10_000,
      });
    }
    this.log(`${this.name} stopped`);
  }
}

import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** Children still alive; killed when this process exits so none outlives it. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** How a child process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options for {@link ManagedProcess}. */
export interface ManagedProcessOptions {
  /** Shown in errors: "Kafka", "DynamoDB Local". */
  name: string;
  /** A child with piped or ignored stdio (possibly in its own process group). */
  child: ChildProcess;
  /** When set, the child's stdout and stderr are appended to this file. */
  logFile?: string;
}

/**
 * An attached child process that a server manager owns: records how it exited, keeps its
 * output in a log file, stops it with SIGTERM then SIGKILL, and is killed on `process.exit`.
 */
export class ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly logFile: string | undefined;
  /** Resolves when the child has exited (or failed to spawn). */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private spawnError: Error | undefined;
  private readonly child: ChildProcess;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.child = options.child;
    this.pid = options.child.pid;
    this.logFile = options.logFile;
    installExitHook();
    liveChildren.add(this.child);
    if (options.logFile) {
      const log = fs.createWriteStream(options.logFile, { flags: 'a' });
      let open = 2;
      const release = (): void => {
        open -= 1;
        if (open === 0) log.end();
      };
      for (const stream of [this.child.stdout, this.child.stderr]) {
        if (stream) {
          stream.pipe(log, { end: false });
          stream.once('end', release);
        } else {
          release();
        }
      }
    } else {
      // Unread pipes fill up and block the child.
      this.child.stdout?.resume();
      this.child.stderr?.resume();
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.spawnError = error;
        // 'exit' never comes when the spawn itself failed.
        if (this.child.pid === undefined) {
          this.exitInfo = { code: null, signal: null };
          liveChildren.delete(this.child);
          resolve(this.exitInfo);
        }
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        liveChildren.delete(this.child);
        resolve(this.exitInfo);
      });
    });
  }

  /** Whether the child is still running. */
  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /**
   * An error describing an unexpected exit, with the end of the log file, or `undefined` while
   * the child runs. Meant for `pollUntil`'s `abortIf`.
   */
  exitError(): Error | undefined {
    if (!this.exitInfo) return undefined;
    const how = this.spawnError
      ? `could not be started (${this.spawnError.message})`
      : `exited with ${this.exitInfo.signal ? `signal ${this.exitInfo.signal}` : `code ${this.exitInfo.code}`}`;
    const tail = this.logTail();
    return new Error(
      `${this.name} ${how}${this.logFile ? `; its output is in ${this.logFile}` : ''}${tail ? `:\n${tail}` : ''}`,
    );
  }

  /** The last lines of the log file, for error messages. */
  logTail(lines = 20): string {
    if (!this.logFile) return '';
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * Sends SIGTERM, then SIGKILL when the child has not exited after `graceMs`, and resolves once
   * it has exited. Safe to call more than once.
   */
  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (first === 'timeout') this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** A local server that the stack starts, or reuses when one already answers on its port. */
export interface ServerHandle {
  /** Human name for logs and errors: "DynamoDB Local", "Kafka", "kinesalite". */
  readonly name: string;
  /** The port clients connect to. */
  readonly port: number;
  /** True when `start()` found a server already answering and left it to its owner. */
  readonly reused: boolean;
  /** The pid of the child process this handle started, while it runs. */
  readonly pid: number | undefined;
  /** Where the server's output goes when this handle starts it. */
  readonly logFiles: readonly string[];
  /** Starts the server (or reuses a running one) and resolves once it answers. */
  start(): Promise<void>;
  /**
   * Stops the server if this handle started it, and resolves once the process exited and the
   * port is free. Idempotent; a no-op for a reused server.
   */
  stop(): Promise<void>;
}

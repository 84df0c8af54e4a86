import { spawn } from 'node:child_process';

/** What a `promtool` run printed and how it exited. */
export interface PromtoolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs Prometheus's own `promtool` (Debian's `prometheus` package; `.ci/run` installs it) with
 * `args`, writing `stdin` to it when given, and resolves with its output and exit code.
 */
export function runPromtool(args: string[], stdin?: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) =>
      reject(new Error(`promtool did not run (install Debian's prometheus package): ${error.message}`)),
    );
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

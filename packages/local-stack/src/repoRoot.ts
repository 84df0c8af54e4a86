import path from 'node:path';

/**
 * The repository root. Both `src/` (tests) and `dist/` (built) sit two levels below it, in
 * `packages/local-stack/`.
 */
export function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

import path from 'node:path';

/** The repository root (infra/src and infra/dist both sit two levels below it). */
export const repoRoot = path.resolve(__dirname, '../..');

/** A Copilot addon template, the one definition of its resources for Copilot and this app. */
export function copilotAddon(relativePath: string): string {
  return path.join(repoRoot, 'copilot', relativePath);
}

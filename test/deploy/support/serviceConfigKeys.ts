import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** `KEY:` entries of an object literal at the start of a line (the zod shapes of the configs). */
function keysIn(source: string): string[] {
  return [...source.matchAll(/^\s+([A-Z][A-Z0-9_]*):\s/gm)].map((match) => match[1]!);
}

/** The shared settings objects of packages/shared (`commonSettings`, `kafkaSettings`) and their keys. */
function sharedSettings(): Map<string, string[]> {
  const source = fs.readFileSync(path.join(root, 'packages/shared/src/config/commonSettings.ts'), 'utf8');
  const settings = new Map<string, string[]>();
  for (const match of source.matchAll(/^export const (\w+) = \{\n([\s\S]*?)^\} as const;/gm)) {
    settings.set(match[1]!, keysIn(match[2]!));
  }
  return settings;
}

/** The alias names Copilot's addon outputs give the table settings (`ORDERS_TABLE_NAME` for `ORDERS_TABLE`). */
export function configAliases(): Map<string, string> {
  const source = fs.readFileSync(path.join(root, 'packages/shared/src/config/parseConfig.ts'), 'utf8');
  const block = /COPILOT_ALIASES[^{]*\{([\s\S]*?)\};/.exec(source)?.[1] ?? '';
  return new Map([...block.matchAll(/([A-Z_]+):\s*'([A-Z_]+)'/g)].map((match) => [match[1]!, match[2]!]));
}

/**
 * The environment variables a service's config reads, from its zod schema in
 * `services/<service>/src/config.ts` and the shared settings it spreads into it; the Copilot
 * aliases of the table names count as the setting they stand for.
 */
export function serviceConfigKeys(service: string): Set<string> {
  const source = fs.readFileSync(path.join(root, 'services', service, 'src/config.ts'), 'utf8');
  const keys = new Set(keysIn(source));
  for (const [name, shared] of sharedSettings()) {
    if (source.includes(`...${name}`)) for (const key of shared) keys.add(key);
  }
  if (keys.size < 5) throw new Error(`found only ${keys.size} settings in services/${service}/src/config.ts`);
  return keys;
}

/** Whether `key` is a setting of the service's config (or the Copilot alias of one). */
export function serviceReads(service: string, key: string): boolean {
  return serviceConfigKeys(service).has(key) || [...configAliases().values()].includes(key);
}

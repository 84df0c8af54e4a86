import type { z } from 'zod';
import { ConfigError } from './ConfigError';

/**
 * Copilot injects addon outputs as environment variables named after the output
 * (`OrdersTableName` becomes `ORDERS_TABLE_NAME`); each is accepted in place of our own name.
 */
const COPILOT_ALIASES: Record<string, string> = {
  ORDERS_TABLE: 'ORDERS_TABLE_NAME',
  OUTBOX_TABLE: 'ORDER_OUTBOX_TABLE_NAME',
  RELAY_STATE_TABLE: 'RELAY_STATE_TABLE_NAME',
  NOTIFICATIONS_TABLE: 'NOTIFICATIONS_TABLE_NAME',
};

function withAliases(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const resolved = { ...env };
  for (const [name, alias] of Object.entries(COPILOT_ALIASES)) {
    if (resolved[name] === undefined && env[alias] !== undefined) resolved[name] = env[alias];
  }
  return resolved;
}

/**
 * Validates `env` against a zod schema and returns a deeply frozen config. Fails fast with every
 * problem listed, each naming the environment variable it came from.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): Readonly<z.infer<S>> {
  const result = schema.safeParse(withAliases(env));
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.length > 0 ? issue.path.join('.') : '(config)';
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

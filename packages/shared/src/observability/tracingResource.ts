/**
 * The resource attributes of a service's spans: `service.name` and what the OpenTelemetry
 * variables add. `OTEL_RESOURCE_ATTRIBUTES` is a list `key=value,key=value` (values
 * percent-encoded, e.g. `deployment.environment.name=prod,team=orders`); `OTEL_SERVICE_NAME`, when
 * set, names the service instead of `service` (it wins over a `service.name` in the list, as the
 * specification says). A malformed list stops the service at start with the entry at fault,
 * rather than being dropped in silence. Apart from the tracing SDK so the config can check it too.
 */
export function resourceAttributesFrom(
  env: Record<string, string | undefined>,
  service: string,
): Record<string, string> {
  const attributes: Record<string, string> = { 'service.name': service, ...parseResourceAttributes(env) };
  const named = env.OTEL_SERVICE_NAME?.trim();
  if (named) attributes['service.name'] = named;
  return attributes;
}

/** The entries of `OTEL_RESOURCE_ATTRIBUTES`; throws on an entry that is not `key=value`. */
export function parseResourceAttributes(env: Record<string, string | undefined>): Record<string, string> {
  const text = env.OTEL_RESOURCE_ATTRIBUTES?.trim();
  const attributes: Record<string, string> = {};
  if (!text) return attributes;
  for (const entry of text.split(',')) {
    const at = entry.indexOf('=');
    const key = at > 0 ? entry.slice(0, at).trim() : '';
    if (!key) {
      throw new Error(
        `OTEL_RESOURCE_ATTRIBUTES has an entry that is not key=value: ${JSON.stringify(entry)} (e.g. deployment.environment.name=prod,team=orders)`,
      );
    }
    const raw = entry.slice(at + 1).trim();
    try {
      attributes[key] = decodeURIComponent(raw);
    } catch {
      throw new Error(
        `OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not validly percent-encoded: ${JSON.stringify(raw)}`,
      );
    }
  }
  return attributes;
}

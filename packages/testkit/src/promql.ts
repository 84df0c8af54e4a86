const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * Metric names a PromQL expression selects (as written: `x_bucket` stays `x_bucket`). Label
 * matchers, label lists (`by (...)`, `on (...)`), range and offset durations and function names
 * are not metric names.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ');
  const names = [...bare.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)].map((match) => match[1]);
  return [...new Set(names.filter((name) => !KEYWORDS.has(name.toLowerCase())))];
}

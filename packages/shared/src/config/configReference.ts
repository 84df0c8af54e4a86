import { z } from 'zod';

/** Options for {@link configReferenceTable}. */
export interface ConfigReferenceOptions {
  /** Settings left out of the table (for example the shared ones a service spreads in). */
  exclude?: readonly string[];
}

/** Metadata a setting may carry beside its `.describe(...)`. */
export interface SettingMeta {
  /** The default as the reference shows it, when the schema's default is computed at start. */
  defaultText?: string;
}

/** One row of a configuration reference. */
export interface ConfigReferenceRow {
  name: string;
  default: string;
  allowed: string;
  description: string;
}

type Node = z.core.$ZodType;

/** The schema and every schema it wraps (defaults, optionals, pipes of preprocess and transform), outermost first. */
function layers(schema: Node): Node[] {
  const found: Node[] = [];
  const visit = (node: Node) => {
    found.push(node);
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'pipe') {
      visit(def.in as Node);
      visit(def.out as Node);
    } else if (def.innerType !== undefined) {
      visit(def.innerType as Node);
    }
  };
  visit(schema);
  return found;
}

function metaOf(node: Node): (z.core.GlobalMeta & SettingMeta) | undefined {
  return z.globalRegistry.get(node as z.ZodType) as (z.core.GlobalMeta & SettingMeta) | undefined;
}

function code(text: string): string {
  return `\`${text}\``;
}

function defaultOf(all: Node[]): string {
  const shown = all.map((node) => metaOf(node)?.defaultText).find((text) => text !== undefined);
  if (shown !== undefined) return shown;
  const withDefault = all.find((node) => node._zod.def.type === 'default');
  if (withDefault === undefined) return 'unset';
  const value = (withDefault._zod.def as unknown as { defaultValue: unknown }).defaultValue;
  return typeof value === 'number' ? String(value) : code(String(value));
}

function allowedOf(all: Node[]): string {
  for (const node of all) {
    const def = node._zod.def as unknown as { type: string; format?: string };
    if (def.type === 'enum') {
      const options = (node as unknown as z.ZodEnum).options.filter((option) => option !== '');
      return options.map((option) => code(String(option))).join(', ');
    }
    if (def.type === 'number') {
      const { minValue, maxValue } = node as unknown as z.ZodNumber;
      const min = minValue !== null && Number.isFinite(minValue) && minValue > -Number.MAX_SAFE_INTEGER;
      const max = maxValue !== null && Number.isFinite(maxValue) && maxValue < Number.MAX_SAFE_INTEGER;
      if (min && max) return `${minValue}..${maxValue}`;
      if (min) return `≥ ${minValue}`;
      if (max) return `≤ ${maxValue}`;
      return 'a number';
    }
    if (def.type === 'string' && def.format === 'url') return 'a URL';
    if (def.type === 'string') {
      const { minLength } = node as unknown as z.ZodString;
      if (minLength !== null && minLength > 1) return `at least ${minLength} characters`;
    }
  }
  return '';
}

/** Markdown table text of one cell: pipes escaped, on one line. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|').trim();
}

/** The settings of a config schema: its object shape, under any refinement and transform. */
function settingsOf(schema: z.ZodType): Record<string, Node> {
  let node: Node = schema;
  while (node._zod.def.type === 'pipe') node = (node._zod.def as unknown as { in: Node }).in;
  if (node._zod.def.type !== 'object')
    throw new Error('A config schema is a zod object (maybe refined or transformed)');
  return (node as unknown as z.ZodObject).shape;
}

/**
 * The rows of a config schema's reference, one per setting in schema order: name, default
 * (`unset` for an optional setting), allowed values (from the enum or the number bounds) and the
 * description given with `.describe(...)`. Throws when a setting has no description: the schema
 * is where a setting is documented.
 */
export function configReferenceRows(schema: z.ZodType, options: ConfigReferenceOptions = {}): ConfigReferenceRow[] {
  const excluded = new Set(options.exclude ?? []);
  const rows: ConfigReferenceRow[] = [];
  const undocumented: string[] = [];
  for (const [name, setting] of Object.entries(settingsOf(schema))) {
    if (excluded.has(name)) continue;
    const all = layers(setting);
    const description = all.map((node) => metaOf(node)?.description).find((text) => text !== undefined);
    if (description === undefined) undocumented.push(name);
    rows.push({ name, default: defaultOf(all), allowed: allowedOf(all), description: description ?? '' });
  }
  if (undocumented.length > 0) {
    throw new Error(`Settings without a description (add .describe(...) in the schema): ${undocumented.join(', ')}`);
  }
  return rows;
}

/** The configuration reference of a schema as a Markdown table (variable, default, allowed, meaning). */
export function configReferenceTable(schema: z.ZodType, options: ConfigReferenceOptions = {}): string {
  const lines = ['| variable | default | allowed | meaning |', '| --- | --- | --- | --- |'];
  for (const row of configReferenceRows(schema, options)) {
    lines.push(`| ${code(row.name)} | ${cell(row.default)} | ${cell(row.allowed)} | ${cell(row.description)} |`);
  }
  return `${lines.join('\n')}\n`;
}

const markers = (section: string) => [`<!-- ${section}:start -->`, `<!-- ${section}:end -->`] as const;

/** What a text holds between `<!-- <section>:start -->` and `<!-- <section>:end -->`. Throws when the markers are missing. */
export function readGeneratedSection(text: string, section: string): string {
  const [start, end] = markers(section);
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`No ${start} … ${end} markers`);
  return text.slice(from + start.length, to);
}

/** The text with what is between the section's markers replaced by `content`. */
export function replaceGeneratedSection(text: string, section: string, content: string): string {
  const [start] = markers(section);
  const current = readGeneratedSection(text, section);
  const at = text.indexOf(start) + start.length;
  return `${text.slice(0, at)}\n\n${content.trim()}\n\n${text.slice(at + current.length)}`;
}

/**
 * The cells of a Markdown table, trimmed, without its delimiter row: equal for two renderings of
 * one table whatever their padding (Prettier pads the columns), so a check compares content.
 */
export function markdownTableCells(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, line.endsWith('|') && !line.endsWith('\\|') ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((part) => part.trim()),
    )
    .filter((cells) => !cells.every((part) => /^:?-+:?$/.test(part)));
}

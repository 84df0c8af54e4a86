import { z } from 'zod';
import {
  ConfigError,
  configReferenceRows,
  configReferenceTable,
  markdownTableCells,
  optionalSetting,
  parseConfig,
  readGeneratedSection,
  replaceGeneratedSection,
} from '../src';

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port.'),
    MODE: z.enum(['off', 'on']).default('off').describe('`off` or `on` | either.'),
    ENDPOINT: optionalSetting(z.url()).describe('Where to send.'),
    SECRET: optionalSetting(z.string().min(16)).describe('A key.'),
    HOST_ID: z.string().default('computed').meta({ description: 'This host.', defaultText: '`<hostname>`' }),
  })
  .refine((env) => env.PORT !== 1, { message: 'not 1', path: ['PORT'] })
  .transform((env) => ({ port: env.PORT, endpoint: env.ENDPOINT }));

describe('optionalSetting', () => {
  test('When an optional setting is unset or empty, then it is undefined; when set, it must be valid', () => {
    expect(parseConfig(schema, {}).endpoint).toBeUndefined();
    expect(parseConfig(schema, { ENDPOINT: '' }).endpoint).toBeUndefined();
    expect(parseConfig(schema, { ENDPOINT: 'http://127.0.0.1:1' }).endpoint).toBe('http://127.0.0.1:1');
    expect(() => parseConfig(schema, { ENDPOINT: 'not a url', SECRET: 'short' })).toThrow(ConfigError);
    try {
      parseConfig(schema, { ENDPOINT: 'not a url', SECRET: 'short' });
    } catch (error) {
      expect((error as ConfigError).problems.map((problem) => problem.split(':')[0])).toEqual(['ENDPOINT', 'SECRET']);
    }
  });
});

describe('configReference', () => {
  test('When a refined and transformed schema is described, then each setting has its name, default, allowed values and description', () => {
    expect(configReferenceRows(schema)).toEqual([
      { name: 'PORT', default: '8080', allowed: '0..65535', description: 'HTTP port.' },
      { name: 'MODE', default: '`off`', allowed: '`off`, `on`', description: '`off` or `on` | either.' },
      { name: 'ENDPOINT', default: 'unset', allowed: 'a URL', description: 'Where to send.' },
      { name: 'SECRET', default: 'unset', allowed: 'at least 16 characters', description: 'A key.' },
      { name: 'HOST_ID', default: '`<hostname>`', allowed: '', description: 'This host.' },
    ]);
    expect(configReferenceRows(schema, { exclude: ['PORT', 'MODE', 'SECRET'] }).map((row) => row.name)).toEqual([
      'ENDPOINT',
      'HOST_ID',
    ]);
  });

  test('When a setting has no description, then the reference refuses it and names the setting', () => {
    const undocumented = z.object({ A: z.string().default('a').describe('A.'), B: z.string().optional() });
    expect(() => configReferenceRows(undocumented)).toThrow(/B/);
  });

  test('When the table is rendered and padded differently, then its cells are the same, pipes in a description included', () => {
    const table = configReferenceTable(schema);
    const padded = table
      .split('\n')
      .map((line) => line.replaceAll(' | ', '   |   '))
      .join('\n');
    expect(markdownTableCells(padded)).toEqual(markdownTableCells(table));
    expect(markdownTableCells(table)[2]).toEqual(['`MODE`', '`off`', '`off`, `on`', '`off` or `on` \\| either.']);
    expect(markdownTableCells(table.replace('HTTP port.', 'HTTP port!'))).not.toEqual(markdownTableCells(table));
  });

  test('When a section between markers is replaced, then only its content changes', () => {
    const text = 'intro\n<!-- config:start -->\nold\n<!-- config:end -->\noutro\n';
    const replaced = replaceGeneratedSection(text, 'config', '| a |');
    expect(replaced).toBe('intro\n<!-- config:start -->\n\n| a |\n\n<!-- config:end -->\noutro\n');
    expect(readGeneratedSection(replaced, 'config').trim()).toBe('| a |');
    expect(() => readGeneratedSection(text, 'other')).toThrow(/other:start/);
  });
});

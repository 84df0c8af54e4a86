import type {
  AttributeDefinition,
  BillingMode,
  CreateTableCommandInput,
  GlobalSecondaryIndex,
  KeySchemaElement,
  LocalSecondaryIndex,
  Projection,
  ProvisionedThroughput,
  StreamSpecification,
} from '@aws-sdk/client-dynamodb';
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument, type CollectionTag, type ScalarTag } from 'yaml';
import { repoRoot } from './repoRoot';

/** A DynamoDB table as a Copilot addon template defines it, ready to create locally. */
export interface TableTemplate {
  /** The CloudFormation logical id: `OrdersTable`. */
  logicalId: string;
  /** The TableName without its `${App}-${Env}-` prefix: `Orders`. */
  baseName: string;
  /** Everything CreateTable needs except the table name. */
  createTableInput: Omit<CreateTableCommandInput, 'TableName'>;
  /** The TTL attribute, when the template enables TTL. */
  ttlAttribute?: string;
  /** The template file the table comes from. */
  sourceFile: string;
}

/** CloudFormation functions that have a `!Short` form; `!Ref` and `!Condition` are added apart. */
const FUNCTIONS = [
  'And',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Length',
  'Not',
  'Or',
  'Select',
  'Split',
  'Sub',
  'ToJsonString',
  'Transform',
];

/**
 * YAML tags for CloudFormation's short forms: each resolves to the long form (`!Sub x` becomes
 * `{ "Fn::Sub": "x" }`), in scalar, sequence and mapping position.
 */
function cloudFormationTags(): (ScalarTag | CollectionTag)[] {
  const tags: (ScalarTag | CollectionTag)[] = [];
  const add = (shortName: string, key: string, scalar: (value: string) => unknown = (value) => value): void => {
    tags.push({ tag: `!${shortName}`, resolve: (value: string) => ({ [key]: scalar(value) }) });
    for (const collection of ['seq', 'map'] as const) {
      tags.push({ tag: `!${shortName}`, collection, resolve: (value) => ({ [key]: value.toJSON() }) });
    }
  };
  add('Ref', 'Ref');
  add('Condition', 'Condition');
  for (const name of FUNCTIONS) {
    if (name === 'GetAtt') {
      // `!GetAtt Table.StreamArn` is `Fn::GetAtt: [Table, StreamArn]`.
      add(name, `Fn::${name}`, (value) => {
        const dot = value.indexOf('.');
        return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
      });
    } else {
      add(name, `Fn::${name}`);
    }
  }
  return tags;
}

/** Table properties that only matter in AWS (backups, encryption, tags, ...); skipped locally. */
const DEPLOYMENT_ONLY_PROPERTIES = new Set([
  'ContributorInsightsSpecification',
  'DeletionProtectionEnabled',
  'KinesisStreamSpecification',
  'OnDemandThroughput',
  'PointInTimeRecoverySpecification',
  'ResourcePolicy',
  'SSESpecification',
  'TableClass',
  'Tags',
  'WarmThroughput',
]);

const TRANSLATED_PROPERTIES = new Set([
  'AttributeDefinitions',
  'BillingMode',
  'GlobalSecondaryIndexes',
  'KeySchema',
  'LocalSecondaryIndexes',
  'ProvisionedThroughput',
  'StreamSpecification',
  'TableName',
  'TimeToLiveSpecification',
]);

const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DeletionPolicy', 'UpdateReplacePolicy', 'DependsOn', 'Metadata']);

const TABLE_NAME_PATTERN = /^\$\{App\}-\$\{Env\}-([A-Za-z0-9_.-]+)$/;

type Json = unknown;

/** Reads one table resource; every problem names the file, the resource and the property path. */
class TableTranslator {
  constructor(
    private readonly file: string,
    private readonly logicalId: string,
  ) {}

  fail(where: string, message: string): never {
    throw new Error(`${this.file}: resource ${this.logicalId}${where ? `, ${where}` : ''}: ${message}`);
  }

  private intrinsicName(value: Json): string | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const keys = Object.keys(value);
    return keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::')) ? keys[0] : undefined;
  }

  private literal(value: Json, where: string): void {
    const fn = this.intrinsicName(value);
    if (fn) {
      this.fail(where, `uses ${fn}, which the local stack cannot evaluate; write a literal value here`);
    }
  }

  object(value: Json, where: string): Record<string, Json> {
    this.literal(value, where);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(where, 'must be a mapping');
    return value as Record<string, Json>;
  }

  list(value: Json, where: string): Json[] {
    this.literal(value, where);
    if (!Array.isArray(value)) this.fail(where, 'must be a list');
    return value;
  }

  string(value: Json, where: string): string {
    this.literal(value, where);
    if (typeof value !== 'string' || value === '') this.fail(where, 'must be a non-empty string');
    return value;
  }

  oneOf<T extends string>(value: Json, where: string, allowed: readonly T[]): T {
    const text = this.string(value, where);
    if (!(allowed as readonly string[]).includes(text)) {
      this.fail(where, `is ${JSON.stringify(text)}; expected one of ${allowed.join(', ')}`);
    }
    return text as T;
  }

  boolean(value: Json, where: string): boolean {
    this.literal(value, where);
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    return this.fail(where, 'must be true or false');
  }

  positiveInteger(value: Json, where: string): number {
    this.literal(value, where);
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) {
      this.fail(where, 'must be a positive whole number');
    }
    return number;
  }

  onlyKeys(value: Record<string, Json>, where: string, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.fail(where, `has ${key}, which the local stack does not translate (it knows ${allowed.join(', ')})`);
      }
    }
  }

  baseName(value: Json): string {
    const where = 'TableName';
    if (value === undefined) {
      this.fail(where, "is missing; name the table !Sub '${App}-${Env}-<Name>' so every environment gets its own");
    }
    const sub = typeof value === 'object' && value !== null ? (value as Record<string, Json>)['Fn::Sub'] : undefined;
    const match = typeof sub === 'string' ? TABLE_NAME_PATTERN.exec(sub) : null;
    if (!match) {
      this.fail(where, `must be !Sub '\${App}-\${Env}-<Name>' (got ${JSON.stringify(value)})`);
    }
    return match[1]!;
  }

  keySchema(value: Json, where: string): KeySchemaElement[] {
    const elements = this.list(value, where).map((raw, index) => {
      const at = `${where}[${index}]`;
      const element = this.object(raw, at);
      this.onlyKeys(element, at, ['AttributeName', 'KeyType']);
      return {
        AttributeName: this.string(element.AttributeName, `${at}.AttributeName`),
        KeyType: this.oneOf(element.KeyType, `${at}.KeyType`, ['HASH', 'RANGE'] as const),
      };
    });
    const hashFirst = elements[0]?.KeyType === 'HASH';
    const shapeOk = hashFirst && (elements.length === 1 || (elements.length === 2 && elements[1]!.KeyType === 'RANGE'));
    if (!shapeOk) this.fail(where, 'must be one HASH key, optionally followed by one RANGE key');
    return elements;
  }

  projection(value: Json, where: string): Projection {
    const raw = this.object(value, where);
    this.onlyKeys(raw, where, ['ProjectionType', 'NonKeyAttributes']);
    const projection: Projection = {
      ProjectionType: this.oneOf(raw.ProjectionType, `${where}.ProjectionType`, [
        'ALL',
        'KEYS_ONLY',
        'INCLUDE',
      ] as const),
    };
    if (raw.NonKeyAttributes !== undefined) {
      projection.NonKeyAttributes = this.list(raw.NonKeyAttributes, `${where}.NonKeyAttributes`).map((name, index) =>
        this.string(name, `${where}.NonKeyAttributes[${index}]`),
      );
    }
    return projection;
  }

  throughput(value: Json, where: string): ProvisionedThroughput {
    const raw = this.object(value, where);
    this.onlyKeys(raw, where, ['ReadCapacityUnits', 'WriteCapacityUnits']);
    return {
      ReadCapacityUnits: this.positiveInteger(raw.ReadCapacityUnits, `${where}.ReadCapacityUnits`),
      WriteCapacityUnits: this.positiveInteger(raw.WriteCapacityUnits, `${where}.WriteCapacityUnits`),
    };
  }

  translate(resource: Record<string, Json>): TableTemplate {
    for (const key of Object.keys(resource)) {
      if (key === 'Condition') this.fail('Condition', 'conditional tables cannot be created locally');
      if (!RESOURCE_KEYS.has(key)) this.fail(key, 'is not a resource attribute the local stack knows');
    }
    const properties = this.object(resource.Properties, 'Properties');
    for (const key of Object.keys(properties)) {
      if (!TRANSLATED_PROPERTIES.has(key) && !DEPLOYMENT_ONLY_PROPERTIES.has(key)) {
        this.fail(key, 'is a table property the local stack cannot translate');
      }
    }

    const baseName = this.baseName(properties.TableName);
    const attributeDefinitions: AttributeDefinition[] = this.list(
      properties.AttributeDefinitions,
      'AttributeDefinitions',
    ).map((raw, index) => {
      const at = `AttributeDefinitions[${index}]`;
      const definition = this.object(raw, at);
      this.onlyKeys(definition, at, ['AttributeName', 'AttributeType']);
      return {
        AttributeName: this.string(definition.AttributeName, `${at}.AttributeName`),
        AttributeType: this.oneOf(definition.AttributeType, `${at}.AttributeType`, ['S', 'N', 'B'] as const),
      };
    });
    const keySchema = this.keySchema(properties.KeySchema, 'KeySchema');

    const billingMode: BillingMode =
      properties.BillingMode === undefined
        ? 'PROVISIONED'
        : this.oneOf(properties.BillingMode, 'BillingMode', ['PAY_PER_REQUEST', 'PROVISIONED'] as const);
    const provisioned = billingMode === 'PROVISIONED';
    const throughputRule = (value: Json, where: string): ProvisionedThroughput | undefined => {
      if (provisioned && value === undefined) this.fail(where, 'is required when BillingMode is PROVISIONED');
      if (!provisioned && value !== undefined) this.fail(where, 'must be left out when BillingMode is PAY_PER_REQUEST');
      return value === undefined ? undefined : this.throughput(value, where);
    };

    const input: Omit<CreateTableCommandInput, 'TableName'> = {
      AttributeDefinitions: attributeDefinitions,
      KeySchema: keySchema,
      BillingMode: billingMode,
    };
    const tableThroughput = throughputRule(properties.ProvisionedThroughput, 'ProvisionedThroughput');
    if (tableThroughput) input.ProvisionedThroughput = tableThroughput;

    const keyAttributes = new Set(keySchema.map((key) => key.AttributeName!));
    if (properties.GlobalSecondaryIndexes !== undefined) {
      input.GlobalSecondaryIndexes = this.list(properties.GlobalSecondaryIndexes, 'GlobalSecondaryIndexes').map(
        (raw, index): GlobalSecondaryIndex => {
          const at = `GlobalSecondaryIndexes[${index}]`;
          const gsi = this.object(raw, at);
          this.onlyKeys(gsi, at, [
            'IndexName',
            'KeySchema',
            'Projection',
            'ProvisionedThroughput',
            'ContributorInsightsSpecification',
            'OnDemandThroughput',
            'WarmThroughput',
          ]);
          const indexKeys = this.keySchema(gsi.KeySchema, `${at}.KeySchema`);
          indexKeys.forEach((key) => keyAttributes.add(key.AttributeName!));
          const translated: GlobalSecondaryIndex = {
            IndexName: this.string(gsi.IndexName, `${at}.IndexName`),
            KeySchema: indexKeys,
            Projection: this.projection(gsi.Projection, `${at}.Projection`),
          };
          const throughput = throughputRule(gsi.ProvisionedThroughput, `${at}.ProvisionedThroughput`);
          if (throughput) translated.ProvisionedThroughput = throughput;
          return translated;
        },
      );
    }
    if (properties.LocalSecondaryIndexes !== undefined) {
      input.LocalSecondaryIndexes = this.list(properties.LocalSecondaryIndexes, 'LocalSecondaryIndexes').map(
        (raw, index): LocalSecondaryIndex => {
          const at = `LocalSecondaryIndexes[${index}]`;
          const lsi = this.object(raw, at);
          this.onlyKeys(lsi, at, ['IndexName', 'KeySchema', 'Projection']);
          const indexKeys = this.keySchema(lsi.KeySchema, `${at}.KeySchema`);
          indexKeys.forEach((key) => keyAttributes.add(key.AttributeName!));
          return {
            IndexName: this.string(lsi.IndexName, `${at}.IndexName`),
            KeySchema: indexKeys,
            Projection: this.projection(lsi.Projection, `${at}.Projection`),
          };
        },
      );
    }

    // DynamoDB wants exactly the key attributes defined; say so here rather than at CreateTable.
    const defined = new Set(attributeDefinitions.map((definition) => definition.AttributeName!));
    for (const name of keyAttributes) {
      if (!defined.has(name)) this.fail('AttributeDefinitions', `lacks ${name}, which a key schema uses`);
    }
    for (const name of defined) {
      if (!keyAttributes.has(name)) {
        this.fail('AttributeDefinitions', `defines ${name}, which no key schema uses (DynamoDB refuses that)`);
      }
    }

    if (properties.StreamSpecification !== undefined) {
      const raw = this.object(properties.StreamSpecification, 'StreamSpecification');
      this.onlyKeys(raw, 'StreamSpecification', ['StreamViewType', 'ResourcePolicy']);
      const stream: StreamSpecification = {
        StreamEnabled: true,
        StreamViewType: this.oneOf(raw.StreamViewType, 'StreamSpecification.StreamViewType', [
          'NEW_IMAGE',
          'OLD_IMAGE',
          'NEW_AND_OLD_IMAGES',
          'KEYS_ONLY',
        ] as const),
      };
      input.StreamSpecification = stream;
    }

    const template: TableTemplate = {
      logicalId: this.logicalId,
      baseName,
      createTableInput: input,
      sourceFile: this.file,
    };
    if (properties.TimeToLiveSpecification !== undefined) {
      const raw = this.object(properties.TimeToLiveSpecification, 'TimeToLiveSpecification');
      this.onlyKeys(raw, 'TimeToLiveSpecification', ['AttributeName', 'Enabled']);
      if (this.boolean(raw.Enabled, 'TimeToLiveSpecification.Enabled')) {
        template.ttlAttribute = this.string(raw.AttributeName, 'TimeToLiveSpecification.AttributeName');
      }
    }
    return template;
  }
}

/** The addon templates under `copilotDir`: `<service>/addons/*.yml`, sorted for a stable order. */
function addonFiles(copilotDir: string): string[] {
  if (!fs.existsSync(copilotDir)) throw new Error(`No Copilot folder at ${copilotDir}`);
  const files: string[] = [];
  for (const entry of fs
    .readdirSync(copilotDir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const addons = path.join(copilotDir, entry.name, 'addons');
    if (!entry.isDirectory() || !fs.existsSync(addons)) continue;
    for (const file of fs.readdirSync(addons).sort()) {
      if (/\.ya?ml$/.test(file)) files.push(path.join(addons, file));
    }
  }
  return files;
}

/** Parses one CloudFormation template with the short-form tags; rejects unknown tags. */
function parseTemplate(file: string): Record<string, Json> {
  const document = parseDocument(fs.readFileSync(file, 'utf8'), { customTags: cloudFormationTags() });
  const problems = [...document.errors, ...document.warnings];
  if (problems.length > 0) {
    throw new Error(`${file}: cannot parse the template: ${problems.map((problem) => problem.message).join('; ')}`);
  }
  const content: Json = document.toJS();
  if (content === null || content === undefined) return {};
  if (typeof content !== 'object' || Array.isArray(content)) throw new Error(`${file}: the template is not a mapping`);
  return content as Record<string, Json>;
}

/**
 * Reads every `AWS::DynamoDB::Table` from the Copilot addon templates (`copilot/<service>/addons/*.yml`),
 * the single definition of the tables, and translates each into CreateTable input for DynamoDB
 * Local. Deployment-only settings (point-in-time recovery, encryption, tags) are skipped; any other
 * property or intrinsic function it cannot translate fails with the file, resource and property.
 *
 * @param copilotDir The Copilot folder (default `<repo>/copilot`).
 */
export function readTableTemplates(copilotDir: string = path.join(repoRoot(), 'copilot')): TableTemplate[] {
  const templates: TableTemplate[] = [];
  for (const file of addonFiles(copilotDir)) {
    const resources = parseTemplate(file).Resources;
    if (resources === undefined) continue;
    if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) {
      throw new Error(`${file}: Resources must be a mapping`);
    }
    for (const [logicalId, resource] of Object.entries(resources as Record<string, Json>)) {
      const type = (resource as Record<string, Json> | null)?.Type;
      if (type === 'AWS::DynamoDB::GlobalTable') {
        throw new Error(
          `${file}: resource ${logicalId}: AWS::DynamoDB::GlobalTable is not supported locally; use AWS::DynamoDB::Table`,
        );
      }
      if (type !== 'AWS::DynamoDB::Table') continue;
      const translator = new TableTranslator(file, logicalId);
      const template = translator.translate(translator.object(resource, ''));
      const clash = templates.find((other) => other.baseName === template.baseName);
      if (clash) {
        throw new Error(
          `${file}: resource ${logicalId}: table name ${template.baseName} is also used by ${clash.logicalId} in ${clash.sourceFile}`,
        );
      }
      templates.push(template);
    }
  }
  return templates;
}

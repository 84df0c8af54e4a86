import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTableTemplates, type TableTemplate } from '../src/readTableTemplates';

function byName(templates: TableTemplate[], baseName: string): TableTemplate {
  const template = templates.find((candidate) => candidate.baseName === baseName);
  if (!template) throw new Error(`no table ${baseName} in ${templates.map((t) => t.baseName).join(', ')}`);
  return template;
}

/** A throw-away Copilot folder holding one addon template. */
function copilotWith(template: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-'));
  fs.mkdirSync(path.join(dir, 'svc', 'addons'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'svc', 'addons', 'tables.yml'), template);
  return dir;
}

const PARAMETERS = `
Parameters:
  App: { Type: String }
  Env: { Type: String }
  Name: { Type: String }
`;

function tableTemplate(properties: string): string {
  return `${PARAMETERS}
Resources:
  ThingsTable:
    Type: AWS::DynamoDB::Table
    Properties:
${properties}
`;
}

const VALID_PROPERTIES = `      TableName: !Sub '\${App}-\${Env}-Things'
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }`;

describe('readTableTemplates', () => {
  test('When the repository addons are read, then every table of every service comes back once', () => {
    const templates = readTableTemplates();

    expect(templates.map((template) => template.baseName).sort()).toEqual([
      'Notifications',
      'OrderOutbox',
      'Orders',
      'RelayState',
    ]);
    expect(byName(templates, 'Orders').logicalId).toBe('OrdersTable');
    expect(byName(templates, 'Orders').sourceFile).toMatch(/copilot\/order-api\/addons\/orders-tables\.yml$/);
  });

  test('When the Orders table is translated, then keys, on-demand billing, the byCustomer index and TTL are kept', () => {
    const orders = byName(readTableTemplates(), 'Orders');

    expect(orders.createTableInput).toEqual({
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byCustomer',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    expect(orders.ttlAttribute).toBe('expiresAt');
  });

  test('When the OrderOutbox table is translated, then it has a numeric seq range key, a NEW_IMAGE stream and TTL', () => {
    const outbox = byName(readTableTemplates(), 'OrderOutbox');

    expect(outbox.createTableInput.KeySchema).toEqual([
      { AttributeName: 'aggregateId', KeyType: 'HASH' },
      { AttributeName: 'seq', KeyType: 'RANGE' },
    ]);
    expect(outbox.createTableInput.AttributeDefinitions).toContainEqual({ AttributeName: 'seq', AttributeType: 'N' });
    expect(outbox.createTableInput.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(outbox.ttlAttribute).toBe('expiresAt');
  });

  test('When RelayState and Notifications are translated, then only Notifications has TTL and neither has a stream', () => {
    const templates = readTableTemplates();
    const relayState = byName(templates, 'RelayState');
    const notifications = byName(templates, 'Notifications');

    expect(relayState.ttlAttribute).toBeUndefined();
    expect(notifications.ttlAttribute).toBe('expiresAt');
    for (const table of [relayState, notifications]) {
      expect(table.createTableInput.KeySchema).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(table.createTableInput.StreamSpecification).toBeUndefined();
    }
  });

  test('When a table uses provisioned billing, then its throughput is translated for the table and its index', () => {
    const dir = copilotWith(
      tableTemplate(`      TableName: !Sub '\${App}-\${Env}-Things'
      BillingMode: PROVISIONED
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: '2' }
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
        - { AttributeName: byType, AttributeType: S }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
      GlobalSecondaryIndexes:
        - IndexName: byType
          KeySchema: [{ AttributeName: byType, KeyType: HASH }]
          Projection: { ProjectionType: INCLUDE, NonKeyAttributes: [name] }
          ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 }`),
    );

    const [things] = readTableTemplates(dir);

    expect(things!.createTableInput.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 5, WriteCapacityUnits: 2 });
    expect(things!.createTableInput.GlobalSecondaryIndexes![0]).toMatchObject({
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['name'] },
      ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
    });
  });

  test('When a template also holds policies and outputs with short-form tags, then only the table is returned', () => {
    const dir = copilotWith(`${tableTemplate(VALID_PROPERTIES)}
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Resource: !Join ['/', [!GetAtt ThingsTable.Arn, index, '*']]
          - Resource: !If [IsProd, !Ref ThingsTable, !ImportValue other-export]
Outputs:
  Imported:
    Value: !ImportValue
      Fn::Sub: '\${App}-x'
`);

    expect(readTableTemplates(dir).map((template) => template.logicalId)).toEqual(['ThingsTable']);
  });

  test('When a table property holds an intrinsic function, then it fails naming the file, resource and property', () => {
    const dir = copilotWith(
      tableTemplate(VALID_PROPERTIES.replace('PAY_PER_REQUEST', '!If [IsProd, PROVISIONED, PAY_PER_REQUEST]')),
    );

    expect(() => readTableTemplates(dir)).toThrow(
      /tables\.yml: resource ThingsTable, BillingMode: uses Fn::If, which the local stack cannot evaluate/,
    );
  });

  test('When a table has a property the local stack cannot translate, then it fails naming that property', () => {
    const dir = copilotWith(
      tableTemplate(`${VALID_PROPERTIES}
      ImportSourceSpecification: { InputFormat: CSV }`),
    );

    expect(() => readTableTemplates(dir)).toThrow(
      /resource ThingsTable, ImportSourceSpecification: is a table property the local stack cannot translate/,
    );
  });

  test('When the table name is a literal instead of the App-Env pattern, then it fails saying which form is expected', () => {
    const dir = copilotWith(tableTemplate(VALID_PROPERTIES.replace(/TableName: .*/, 'TableName: things')));

    expect(() => readTableTemplates(dir)).toThrow(/TableName: must be !Sub '\$\{App\}-\$\{Env\}-<Name>'/);
  });

  test('When an attribute definition is not used by any key, then it fails before DynamoDB would', () => {
    const dir = copilotWith(
      tableTemplate(
        VALID_PROPERTIES.replace(
          'AttributeDefinitions:',
          'AttributeDefinitions:\n        - { AttributeName: unused, AttributeType: S }',
        ),
      ),
    );

    expect(() => readTableTemplates(dir)).toThrow(/AttributeDefinitions: defines unused, which no key schema uses/);
  });

  test('When a template uses a tag that is not CloudFormation, then it fails as unparseable', () => {
    const dir = copilotWith(tableTemplate(VALID_PROPERTIES.replace('PAY_PER_REQUEST', '!Bogus PAY_PER_REQUEST')));

    expect(() => readTableTemplates(dir)).toThrow(/tables\.yml: cannot parse the template: .*!Bogus/);
  });

  test('When two templates define the same table name, then it fails naming both resources', () => {
    const dir = copilotWith(tableTemplate(VALID_PROPERTIES));
    fs.mkdirSync(path.join(dir, 'worker', 'addons'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'worker', 'addons', 'more.yaml'),
      tableTemplate(VALID_PROPERTIES).replace('ThingsTable', 'MoreThingsTable'),
    );

    expect(() => readTableTemplates(dir)).toThrow(/MoreThingsTable: table name Things is also used by ThingsTable/);
  });
});

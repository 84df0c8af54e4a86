import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { loadConfig as loadNotifierConfig } from '../../services/notifier/src/config';
import { loadConfig as loadOrderApiConfig } from '../../services/order-api/src/config';
import { loadConfig as loadRelayConfig } from '../../services/outbox-relay/src/config';
import { cfnLintErrors } from '../../test/deploy/support/cfnLint';
import { asList, readTemplate } from '../../test/deploy/support/cloudFormation';
import { serviceReads } from '../../test/deploy/support/serviceConfigKeys';
import { createOutboxStacks, type OutboxStacks } from '../src/createOutboxStacks';
import { deploymentSettings } from '../src/deploymentSettings';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Json = Record<string, unknown>;

const root = path.resolve(__dirname, '../..');
const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
  'order-api': loadOrderApiConfig,
  'outbox-relay': loadRelayConfig,
  notifier: loadNotifierConfig,
};

let outdir: string;
let stacks: OutboxStacks;
let templates: Record<keyof OutboxStacks, Json>;

beforeAll(() => {
  // Offline: environment-agnostic stacks, no lookups, images named rather than built.
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-synth-'));
  const app = new App({ outdir });
  stacks = createOutboxStacks(app, {
    appName: 'outbox',
    envName: 'test',
    image: (service) => ecs.ContainerImage.fromRegistry(`outbox/${service}:test`),
  });
  app.synth();
  templates = Object.fromEntries(
    Object.entries(stacks).map(([key, stack]) => [key, Template.fromStack(stack).toJSON() as Json]),
  ) as Record<keyof OutboxStacks, Json>;
}, 120_000);

afterAll(() => {
  if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
});

function resources(template: Json, type?: string): [string, Resource][] {
  return Object.entries(template.Resources as Record<string, Resource>).filter(([, r]) => !type || r.Type === type);
}

function allResources(type: string): [string, Resource][] {
  return Object.values(templates).flatMap((template) => resources(template, type));
}

/** The container definition of each service, by container name. */
function containers(): Map<string, Json> {
  const result = new Map<string, Json>();
  for (const [, taskDefinition] of resources(templates.services, 'AWS::ECS::TaskDefinition')) {
    const [container] = taskDefinition.Properties.ContainerDefinitions as Json[];
    result.set(container!.Name as string, container!);
  }
  return result;
}

/** The ECS service whose task definition runs the container `name`. */
function ecsService(name: string): Resource {
  const [taskDefinitionId] = resources(templates.services, 'AWS::ECS::TaskDefinition').find(
    ([, r]) => (r.Properties.ContainerDefinitions as Json[])[0]!.Name === name,
  )!;
  return resources(templates.services, 'AWS::ECS::Service').find(
    ([, r]) => JSON.stringify(r.Properties.TaskDefinition) === JSON.stringify({ Ref: taskDefinitionId }),
  )![1];
}

test('When the app is synthesized offline, then it has the platform, the three addon stacks and the services', () => {
  expect(Object.values(stacks).map((stack) => stack.stackName)).toEqual([
    'outbox-test-platform',
    'outbox-test-order-api-addons',
    'outbox-test-outbox-relay-addons',
    'outbox-test-notifier-addons',
    'outbox-test-services',
  ]);
  for (const file of fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'))) {
    expect(fs.statSync(path.join(outdir, file)).size).toBeGreaterThan(0);
  }
});

test('When the tables are read, then they are the four of the Copilot addon templates, included unchanged', () => {
  const tables = allResources('AWS::DynamoDB::Table');
  expect(tables.map(([, r]) => (r.Properties.TableName as { 'Fn::Sub': string })['Fn::Sub']).sort()).toEqual(
    ['outbox-test-Notifications', 'outbox-test-OrderOutbox', 'outbox-test-Orders', 'outbox-test-RelayState'].sort(),
  );
  // The same key schema as the YAML Copilot deploys (CfnInclude keeps the logical ids).
  const outbox = readTemplate(path.join(root, 'copilot/order-api/addons/orders-tables.yml')).Resources
    .OrderOutboxTable!;
  const [, included] = tables.find(([id]) => id === 'OrderOutboxTable')!;
  expect(included.Properties.KeySchema).toEqual(outbox.Properties!.KeySchema);
  expect(included.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
});

test('When the Kafka cluster is read, then it is MSK Serverless with IAM auth, reachable on 9098 from the Kafka services only', () => {
  const [[, cluster]] = resources(templates.platform, 'AWS::MSK::ServerlessCluster') as [[string, Resource]];
  expect(cluster.Properties.ClientAuthentication).toEqual({ Sasl: { Iam: { Enabled: true } } });
  const [, kafkaGroup] = resources(templates.platform, 'AWS::EC2::SecurityGroup').find(
    ([id]) => id === 'KafkaSecurityGroup',
  )!;
  const [servicesGroupId] = resources(templates.platform, 'AWS::EC2::SecurityGroup').find(([id]) =>
    id.startsWith('ServicesSecurityGroup'),
  )!;
  expect(kafkaGroup.Properties.SecurityGroupIngress).toEqual([
    expect.objectContaining({
      FromPort: 9098,
      ToPort: 9098,
      SourceSecurityGroupId: { 'Fn::GetAtt': [servicesGroupId, 'GroupId'] },
    }),
  ]);
  // The relay and notifier run in that group; order-api does not need Kafka.
  const exported = (templates.platform.Outputs as Record<string, { Value: unknown; Export: { Name: string } }>) ?? {};
  const groupExport = Object.values(exported).find(
    (output) => JSON.stringify(output.Value) === JSON.stringify({ 'Fn::GetAtt': [servicesGroupId, 'GroupId'] }),
  )!.Export.Name;
  for (const name of ['outbox-relay', 'notifier']) {
    const groups = (ecsService(name).Properties.NetworkConfiguration as Json).AwsvpcConfiguration as Json;
    expect(groups.SecurityGroups).toEqual([{ 'Fn::ImportValue': groupExport }]);
  }
});

test('When every IAM statement of every stack is read, then no action is a wildcard and no table or cluster resource is *', () => {
  const statements: Json[] = [];
  for (const template of Object.values(templates)) {
    for (const [, r] of resources(template)) {
      const documents =
        r.Type === 'AWS::IAM::Role'
          ? asList(r.Properties.Policies).map((p) => (p as Json).PolicyDocument)
          : r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy'
            ? [r.Properties.PolicyDocument]
            : [];
      for (const document of documents) statements.push(...((document as Json).Statement as Json[]));
    }
  }
  expect(statements.length).toBeGreaterThan(10);
  for (const statement of statements) {
    const actions = asList(statement.Action).map(String);
    for (const action of actions) expect(action).not.toContain('*');
    if (actions.some((action) => /^(dynamodb|kafka-cluster|kafka):/.test(action))) {
      for (const resource of asList(statement.Resource)) expect(resource).not.toBe('*');
    }
    // The one exception: X-Ray's write actions take no resource but `*`.
    if (asList(statement.Resource).includes('*')) {
      expect(
        actions.filter((action) => !['xray:PutTraceSegments', 'xray:PutTelemetryRecords'].includes(action)),
      ).toEqual([]);
    }
  }
});

test('When the task definitions are read, then each runs a pinned ADOT collector that the service sends OTLP/HTTP to and that may write to X-Ray', () => {
  const taskDefinitions = resources(templates.services, 'AWS::ECS::TaskDefinition');
  expect(taskDefinitions).toHaveLength(3);
  for (const [id, taskDefinition] of taskDefinitions) {
    const [app, collector, ...others] = taskDefinition.Properties.ContainerDefinitions as Json[];
    expect(others).toEqual([]);
    const name = app!.Name as string;
    expect(collector!.Image).toMatch(/^public\.ecr\.aws\/aws-observability\/aws-otel-collector:v\d+\.\d+\.\d+$/);
    expect(collector!.Essential).toBe(false);
    const collectorEnv = collector!.Environment as { Name: string; Value: string }[];
    const config = parse(collectorEnv.find((variable) => variable.Name === 'AOT_CONFIG_CONTENT')!.Value) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    expect(config.service.pipelines.traces).toMatchObject({ receivers: ['otlp'], exporters: ['awsxray'] });

    const appEnv = Object.fromEntries(
      (app!.Environment as { Name: string; Value: unknown }[]).map(({ Name, Value }) => [Name, Value]),
    );
    const endpoint = new URL(appEnv.OTEL_EXPORTER_OTLP_ENDPOINT as string);
    expect({ name, endpoint: endpoint.href }).toEqual({ name, endpoint: 'http://localhost:4318/' });
    expect(config.receivers.otlp.protocols.http.endpoint).toBe(`127.0.0.1:${endpoint.port}`);
    expect(app!.DependsOn).toEqual([{ ContainerName: collector!.Name, Condition: 'START' }]);
    expect(serviceReads(name, 'OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(true);
    // The same endpoint as the Copilot manifest's, where Copilot's own sidecar listens.
    const manifest = parse(fs.readFileSync(path.join(root, 'copilot', name, 'manifest.yml'), 'utf8')) as {
      variables: Record<string, unknown>;
    };
    expect(manifest.variables.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(appEnv.OTEL_EXPORTER_OTLP_ENDPOINT);

    // The task role of this task definition may put trace segments and telemetry.
    const roleRef = JSON.stringify(
      (taskDefinition.Properties.TaskRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    );
    const actions = resources(templates.services, 'AWS::IAM::Policy')
      .filter(([, policy]) =>
        asList(policy.Properties.Roles).some((role) => JSON.stringify((role as Json).Ref) === roleRef),
      )
      .flatMap(([, policy]) =>
        ((policy.Properties.PolicyDocument as Json).Statement as Json[]).flatMap((s) => asList(s.Action)),
      );
    expect({ id, actions }).toEqual({
      id,
      actions: expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']),
    });
  }
});

test('When the services are read, then every task runs in the private subnets without a public IP', () => {
  const outputs = templates.platform.Outputs as Record<string, { Value: { Ref?: string }; Export: { Name: string } }>;
  const privateSubnets = resources(templates.platform, 'AWS::EC2::Subnet')
    .filter(([, r]) => asList(r.Properties.Tags).some((tag) => JSON.stringify(tag).includes('"Private"')))
    .map(([id]) => id);
  expect(privateSubnets).toHaveLength(2);
  const privateExports = Object.values(outputs)
    .filter((output) => privateSubnets.includes(output.Value.Ref ?? ''))
    .map((output) => ({ 'Fn::ImportValue': output.Export.Name }));

  const services = resources(templates.services, 'AWS::ECS::Service');
  expect(services).toHaveLength(3);
  for (const [, service] of services) {
    const vpc = (service.Properties.NetworkConfiguration as Json).AwsvpcConfiguration as Json;
    expect(vpc.AssignPublicIp).toBe('DISABLED');
    expect(asList(vpc.Subnets).sort()).toEqual(privateExports.sort());
  }
});

test('When the services are read, then order-api and the notifier run two tasks each and the relay two (a leader and a standby)', () => {
  expect(ecsService('order-api').Properties.DesiredCount).toBe(2);
  expect(ecsService('outbox-relay').Properties.DesiredCount).toBe(2);
  expect(ecsService('notifier').Properties.DesiredCount).toBe(2);
});

test('When the health checks are read, then the ALB checks /readyz on the ops port and the workers /healthz on theirs', () => {
  const [[, targetGroup]] = resources(templates.services, 'AWS::ElasticLoadBalancingV2::TargetGroup') as [
    [string, Resource],
  ];
  const orderApi = containers().get('order-api')!;
  const env = Object.fromEntries(
    (orderApi.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
  );
  expect(targetGroup.Properties).toMatchObject({
    HealthCheckPath: '/readyz',
    HealthCheckPort: String(env.OPS_PORT),
    Port: Number(env.PORT),
  });
  expect(env.OPS_PORT).toBe('9100');
  // The ops port is open to the load balancer.
  const ingress = resources(templates.services, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
  expect(ingress).toContainEqual(expect.objectContaining({ FromPort: 9100, ToPort: 9100 }));

  for (const name of ['outbox-relay', 'notifier']) {
    const container = containers().get(name)!;
    const port = (container.Environment as { Name: string; Value: string }[]).find((e) => e.Name === 'PORT')!.Value;
    expect((container.HealthCheck as { Command: string[] }).Command.join(' ')).toContain(
      `http://127.0.0.1:${port}/healthz`,
    );
  }
  expect(containers().get('outbox-relay')!.StopTimeout).toBe(deploymentSettings.relayStopTimeoutSeconds);
  expect(deploymentSettings.relayStopTimeoutSeconds).toBeGreaterThanOrEqual(45);
});

test('When each container environment is read, then it sets only settings the config reads, and the config loads with tables and brokers from the deployment', () => {
  const secretStandIns: Record<string, string> = {
    AUTH_JWT_ISSUER: 'https://issuer.example.com/',
    AUTH_JWT_AUDIENCE: 'orders-api',
    AUTH_JWKS_URL: 'https://issuer.example.com/.well-known/jwks.json',
  };
  // Values CloudFormation resolves at deploy time get stand-ins.
  const standIns: Record<string, string> = { KAFKA_BROKERS: 'boot-1.example.com:9098', AWS_REGION: 'eu-west-1' };
  for (const [name, container] of containers()) {
    const env: Record<string, string> = {};
    for (const { Name, Value } of container.Environment as { Name: string; Value: unknown }[]) {
      env[Name] = typeof Value === 'string' ? Value : (standIns[Name] ?? `deployed-${Name}`);
    }
    for (const { Name } of (container.Secrets as { Name: string }[] | undefined) ?? []) {
      env[Name] = secretStandIns[Name]!;
    }
    for (const key of Object.keys(env))
      expect({ name, key, read: serviceReads(name, key) }).toEqual({ name, key, read: true });

    type Loaded = { tables: Record<string, string>; kafka?: { brokers: string[] }; auth?: { mode: string } };
    const loaded = loaders[name]!(env) as Loaded;
    for (const table of Object.values(loaded.tables)) expect(table).toMatch(/^deployed-/);
    if (loaded.kafka) expect(loaded.kafka.brokers).toEqual(['boot-1.example.com:9098']);
    if (name === 'order-api') expect(loaded.auth?.mode).toBe('jwt');
  }
  // The same topic and group as the Copilot manifests.
  const manifest = (service: string) =>
    parse(fs.readFileSync(path.join(root, 'copilot', service, 'manifest.yml'), 'utf8')) as {
      variables: Record<string, unknown>;
    };
  expect(manifest('outbox-relay').variables.ORDER_EVENTS_TOPIC).toBe(deploymentSettings.orderEventsTopic);
  expect(String(manifest('outbox-relay').variables.LEASE_DURATION_MS)).toBe(deploymentSettings.relayLeaseDurationMs);
  const relayEnv = containers().get('outbox-relay')!.Environment as { Name: string; Value: unknown }[];
  expect(relayEnv.find((entry) => entry.Name === 'LEASE_DURATION_MS')?.Value).toBe(
    deploymentSettings.relayLeaseDurationMs,
  );
  expect(manifest('notifier').variables.NOTIFIER_GROUP_ID).toBe(deploymentSettings.notifierGroupId);
  for (const service of ['outbox-relay', 'notifier']) {
    const { variables } = manifest(service);
    expect(variables.KAFKA_SECURITY).toBe(deploymentSettings.kafkaSecurity);
    expect(variables.KAFKA_ENSURE_TOPICS).toBe(deploymentSettings.kafkaTopics.ensure);
    expect(String(variables.KAFKA_TOPIC_REPLICATION_FACTOR)).toBe(deploymentSettings.kafkaTopics.replicationFactor);
  }
});

test('When cfn-lint checks the synthesized templates, then it reports no errors', () => {
  const files = fs
    .readdirSync(outdir)
    .filter((file) => file.endsWith('.template.json'))
    .map((file) => path.join(outdir, file));
  expect(files).toHaveLength(5);
  expect(cfnLintErrors(files)).toEqual([]);
}, 180_000);

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { deadLetterTopicFor, resourceAttributesFrom, samplerFrom } from '@outbox/shared';
import { loadConfig as loadNotifierConfig } from '../../services/notifier/src/config';
import { loadConfig as loadOrderApiConfig } from '../../services/order-api/src/config';
import { loadConfig as loadRelayConfig } from '../../services/outbox-relay/src/config';
import { asList, policyStatements, readTemplate, type Template } from './support/cloudFormation';
import { serviceConfigKeys, serviceReads } from './support/serviceConfigKeys';

const root = path.resolve(__dirname, '../..');
const copilot = path.join(root, 'copilot');

const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
  'order-api': loadOrderApiConfig,
  'outbox-relay': loadRelayConfig,
  notifier: loadNotifierConfig,
};

interface ServiceManifest {
  name: string;
  type: string;
  image: {
    build: { args: { SERVICE: string } };
    port: number;
    healthcheck?: { command: string[] };
  };
  http?: { healthcheck: { path: string; port?: number } };
  network?: { vpc?: { placement?: string } };
  count: unknown;
  cpu?: number;
  variables: Record<string, string | number | { from_cfn: string }>;
  secrets?: Record<string, string>;
  taskdef_overrides?: { path: string; value: unknown }[];
  observability?: { tracing?: string };
  environments?: Record<string, { variables?: Record<string, unknown>; secrets?: Record<string, unknown> }>;
}

const environments = fs
  .readdirSync(path.join(copilot, 'environments'), { withFileTypes: true })
  .filter(
    (entry) => entry.isDirectory() && fs.existsSync(path.join(copilot, 'environments', entry.name, 'manifest.yml')),
  )
  .map((entry) => entry.name)
  .sort();

const services = fs
  .readdirSync(copilot, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'environments')
  .map((entry) => entry.name)
  .sort();

function manifest(service: string): ServiceManifest {
  return parse(fs.readFileSync(path.join(copilot, service, 'manifest.yml'), 'utf8')) as ServiceManifest;
}

function addonTemplates(dir: string): { file: string; template: Template }[] {
  const addons = path.join(copilot, dir, 'addons');
  if (!fs.existsSync(addons)) return [];
  return fs
    .readdirSync(addons)
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'addons.parameters.yml')
    .map((file) => ({ file: path.join(dir, 'addons', file), template: readTemplate(path.join(addons, file)) }));
}

const allTemplates = [...addonTemplates('environments'), ...services.flatMap((service) => addonTemplates(service))];

/** `OrdersTableName` → `ORDERS_TABLE_NAME`, as Copilot names the variable of an addon output. */
function copilotVariableName(outputName: string): string {
  return outputName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** A value like the one CloudFormation gives the output in environment `env` of app `app`. */
function deployedOutputValue(template: Template, outputName: string, app: string, env: string): string {
  const value = template.Outputs![outputName]!.Value as Record<string, unknown>;
  const ref = typeof value.Ref === 'string' ? template.Resources[value.Ref] : undefined;
  if (ref?.Type === 'AWS::DynamoDB::Table') {
    const name = (ref.Properties!.TableName as { 'Fn::Sub': string })['Fn::Sub'];
    return name.replace('${App}', app).replace('${Env}', env);
  }
  if (/BootstrapBrokers/.test(outputName)) {
    return 'boot-abc123.c2.kafka-serverless.eu-west-1.amazonaws.com:9098';
  }
  return `stand-in-for-${outputName}`;
}

/** The output, in any addon template, exported under `exportName` (`${App}-${Env}-…`). */
function exportedOutput(exportName: string): { template: Template; outputName: string } | undefined {
  for (const { template } of allTemplates) {
    for (const [outputName, output] of Object.entries(template.Outputs ?? {})) {
      const name = (output.Export?.Name as { 'Fn::Sub'?: string } | undefined)?.['Fn::Sub'];
      if (name === exportName) return { template, outputName };
    }
  }
  return undefined;
}

/** Whether some addon template imports the export `exportName` (`${App}-${Env}-…`). */
function isImported(exportName: unknown): boolean {
  const name = (exportName as { 'Fn::Sub'?: string } | undefined)?.['Fn::Sub'];
  if (name === undefined) return false;
  const suffix = name.replace('${App}-${Env}-', '');
  const manifests = services.map((service) => fs.readFileSync(path.join(copilot, service, 'manifest.yml'), 'utf8'));
  return (
    allTemplates.some(({ template }) =>
      JSON.stringify(template.Resources).includes(`"Fn::ImportValue":{"Fn::Sub":"${name}"}`),
    ) || manifests.some((text) => text.includes(`\${COPILOT_ENVIRONMENT_NAME}-${suffix}`))
  );
}

/**
 * Outputs Copilot turns into environment variables: all but managed policies (attached to the task
 * role). `forOtherStacks` marks exports another template or manifest imports: there for them.
 */
function injectedOutputs(service: string): { template: Template; outputName: string; forOtherStacks: boolean }[] {
  return addonTemplates(service).flatMap(({ template }) =>
    Object.entries(template.Outputs ?? {})
      .filter(([, output]) => {
        const ref = (output.Value as { Ref?: string }).Ref;
        return !(ref && template.Resources[ref]?.Type === 'AWS::IAM::ManagedPolicy');
      })
      .map(([outputName, output]) => ({ template, outputName, forOtherStacks: isImported(output.Export?.Name) })),
  );
}

/** Stand-in values of the SSM parameters behind `secrets:`. */
const SECRET_VALUES: Record<string, string> = {
  AUTH_JWT_ISSUER: 'https://issuer.example.com/',
  AUTH_JWT_AUDIENCE: 'orders-api',
  AUTH_JWKS_URL: 'https://issuer.example.com/.well-known/jwks.json',
};

/**
 * The environment a service's task gets in `env`, as Copilot builds it from manifest and addons,
 * and the variables that only mirror exports other stacks import.
 */
function deployedEnvironment(service: string, env: string): { deployed: Record<string, string>; mirrors: Set<string> } {
  const app = 'outbox';
  const m = manifest(service);
  const variables = { ...m.variables, ...(m.environments?.[env]?.variables ?? {}) };
  const secrets = { ...(m.secrets ?? {}), ...(m.environments?.[env]?.secrets ?? {}) } as Record<string, string>;
  const result: Record<string, string> = { AWS_REGION: 'eu-west-1' };
  for (const [key, value] of Object.entries(variables)) {
    if (typeof value === 'object' && value !== null && 'from_cfn' in value) {
      const exportName = (value as { from_cfn: string }).from_cfn
        .replace('${COPILOT_APPLICATION_NAME}', '${App}')
        .replace('${COPILOT_ENVIRONMENT_NAME}', '${Env}');
      const source = exportedOutput(exportName);
      if (!source) throw new Error(`${service}: ${key} imports ${exportName}, which no addon template exports`);
      result[key] = deployedOutputValue(source.template, source.outputName, app, env);
    } else {
      // Copilot's predefined variables, resolved when it reads the manifest.
      result[key] = String(value)
        .replaceAll('${COPILOT_APPLICATION_NAME}', app)
        .replaceAll('${COPILOT_ENVIRONMENT_NAME}', env);
    }
  }
  for (const key of Object.keys(secrets)) {
    if (!(key in SECRET_VALUES)) throw new Error(`${service}: no stand-in value for secret ${key}`);
    result[key] = SECRET_VALUES[key]!;
  }
  const mirrors = new Set<string>();
  for (const { template, outputName, forOtherStacks } of injectedOutputs(service)) {
    result[copilotVariableName(outputName)] = deployedOutputValue(template, outputName, app, env);
    if (forOtherStacks) mirrors.add(copilotVariableName(outputName));
  }
  return { deployed: result, mirrors };
}

/** Whether the service answers `route`: in its own sources, or in the shared ops server it uses. */
function serviceServes(service: string, route: string): boolean {
  const files = fs.readdirSync(path.join(root, 'services', service, 'src'), { recursive: true, encoding: 'utf8' });
  const sources = files
    .filter((file) => file.endsWith('.ts'))
    .map((file) => fs.readFileSync(path.join(root, 'services', service, 'src', file), 'utf8'));
  if (sources.some((source) => source.includes(`'${route}'`))) return true;
  const opsServer = fs.readFileSync(path.join(root, 'packages/shared/src/http/createOpsServer.ts'), 'utf8');
  return sources.some((source) => source.includes('createOpsServer(')) && opsServer.includes(`'${route}'`);
}

test('The repo has Copilot manifests for the three services and at least a test and a prod environment', () => {
  expect(services).toEqual(['notifier', 'order-api', 'outbox-relay']);
  expect(environments).toEqual(expect.arrayContaining(['prod', 'test']));
  for (const env of environments) {
    const m = parse(fs.readFileSync(path.join(copilot, 'environments', env, 'manifest.yml'), 'utf8')) as {
      name: string;
      type: string;
    };
    expect(m).toMatchObject({ name: env, type: 'Environment' });
  }
});

describe.each(services)('the %s manifest', (service) => {
  const m = manifest(service);
  const keys = serviceConfigKeys(service);

  test('When it is read, then its name, image argument and port match the service', () => {
    expect(m.name).toBe(service);
    expect(m.image.build.args.SERVICE).toBe(service);
    expect(fs.existsSync(path.join(root, 'services', service, 'src/main.ts'))).toBe(true);
    expect(Number(m.variables.PORT)).toBe(m.image.port);
    expect(m.network?.vpc?.placement).toBe('private');
  });

  test('When its health checks are read, then each checks a path the service serves, on the port it serves it', () => {
    if (m.http) {
      const { path: route, port } = m.http.healthcheck;
      expect(serviceServes(service, route)).toBe(true);
      // The load balancer checks the operations port when there is one.
      expect(port ?? m.image.port).toBe(Number(m.variables.OPS_PORT ?? m.variables.PORT));
    }
    if (m.image.healthcheck) {
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/\w+)/.exec(m.image.healthcheck.command.join(' '));
      expect(url).not.toBeNull();
      expect(Number(url![1])).toBe(Number(m.variables.PORT));
      expect(serviceServes(service, url![2]!)).toBe(true);
    }
    expect(m.http !== undefined || m.image.healthcheck !== undefined).toBe(true);
  });

  test.each(environments)(
    'When deployed to %s, then every variable, secret and addon output is a setting the config reads, and the config loads without local defaults',
    (env) => {
      const { deployed, mirrors } = deployedEnvironment(service, env);
      for (const key of Object.keys(deployed)) {
        const known = serviceReads(service, key) || mirrors.has(key);
        if (!known)
          throw new Error(
            `${service} in ${env}: ${key} is set, but services/${service}/src/config.ts does not read it`,
          );
      }
      // Local endpoints (DynamoDB Local, kinesalite) stay unset; the OTLP endpoint is the tracing sidecar's.
      for (const key of keys)
        if (/_ENDPOINT$/.test(key) && key !== 'OTEL_EXPORTER_OTLP_ENDPOINT') expect(deployed[key]).toBeUndefined();
      // Every table the service uses, and the brokers, come from the deployment, never the local default.
      type Loaded = { tables: Record<string, string>; kafka?: { brokers: string[] } };
      const loaded = loaders[service]!(deployed) as Loaded;
      const local = loaders[service]!({}) as Loaded;
      for (const [table, name] of Object.entries(loaded.tables)) {
        expect({ table, name }).toEqual({ table, name: expect.stringMatching(new RegExp(`^outbox-${env}-`)) });
      }
      if (local.kafka) expect(loaded.kafka!.brokers).not.toEqual(local.kafka.brokers);
    },
  );

  test('When it is read, then traces go to the AWS X-Ray collector sidecar Copilot adds (OTLP/HTTP on localhost:4318)', () => {
    expect(m.observability).toEqual({ tracing: 'awsxray' });
    expect(m.variables.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://localhost:4318');
    expect(serviceReads(service, 'OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(true);
    for (const env of environments) {
      expect(deployedEnvironment(service, env).deployed.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://localhost:4318');
    }
  });

  test('When deployed, then every span names the environment it runs in (deployment.environment.name)', () => {
    for (const env of environments) {
      const { deployed } = deployedEnvironment(service, env);
      expect(resourceAttributesFrom(deployed, service)).toEqual({
        'service.name': service,
        'deployment.environment.name': env,
      });
    }
  });

  test('When it is read, then its trace sampler settings, if any, are ones the service starts with', () => {
    for (const env of environments) {
      const { deployed } = deployedEnvironment(service, env);
      expect(() => samplerFrom(deployed)).not.toThrow();
      if (service === 'order-api') {
        expect(deployed).toMatchObject({
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '1',
        });
      }
    }
  });
});

test('When order-api is deployed to any environment, then AUTH_MODE is jwt and issuer, audience and JWKS URL are SSM parameters', () => {
  const m = manifest('order-api');
  for (const env of environments) {
    const variables = { ...m.variables, ...(m.environments?.[env]?.variables ?? {}) };
    expect(variables.AUTH_MODE).toBe('jwt');
    const secrets = { ...(m.secrets ?? {}), ...(m.environments?.[env]?.secrets ?? {}) } as Record<string, unknown>;
    for (const key of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_JWKS_URL']) {
      expect(secrets[key]).toMatch(
        /^\/copilot\/\$\{COPILOT_APPLICATION_NAME\}\/\$\{COPILOT_ENVIRONMENT_NAME\}\/secrets\//,
      );
      expect(variables).not.toHaveProperty(key);
    }
  }
});

test('When the relay is stopped, then ECS waits long enough for it to checkpoint and release the lease', () => {
  const stopTimeout = manifest('outbox-relay').taskdef_overrides?.find(
    (override) => override.path === 'ContainerDefinitions[0].StopTimeout',
  )?.value;
  // Batch in flight (15 s) + lease release (5 s) + Kafka disconnect, with room to spare; Fargate allows 120 s.
  expect(Number(stopTimeout)).toBeGreaterThanOrEqual(45);
  expect(Number(stopTimeout)).toBeLessThanOrEqual(120);
});

test('When the relay runs on a small task, then its lease outlasts the event loop lag measured there (1–2 s at 0.25 vCPU under a backlog)', () => {
  const m = manifest('outbox-relay');
  const lease = loadRelayConfig({ LEASE_DURATION_MS: String(m.variables.LEASE_DURATION_MS) }).lease;
  // At most 0.5 vCPU: the bench's scale-out phase saw shard leases lapse and move with the 2 s default.
  expect(m.cpu).toBeLessThanOrEqual(512);
  expect(lease.durationMs).toBeGreaterThanOrEqual(5000);
  // Renewals stay frequent: several chances before the holder stops acting at 80 % of the lease.
  expect(lease.renewIntervalMs * 4).toBeLessThanOrEqual(lease.durationMs * 0.8);
});

test('When the addon templates are read, then no file holds a broker address, every Kafka service gets the brokers from the environment addon', () => {
  for (const dir of ['environments', ...services]) {
    const folder = path.join(copilot, dir);
    for (const file of fs.readdirSync(folder, { recursive: true, encoding: 'utf8' })) {
      if (!/\.ya?ml$/.test(file)) continue;
      const text = fs.readFileSync(path.join(folder, file), 'utf8');
      expect({ file, broker: /[\w-]+(\.[\w-]+)+:(9092|9094|9096|9098)\b/.test(text) }).toEqual({ file, broker: false });
    }
  }
  for (const service of ['outbox-relay', 'notifier']) {
    expect(manifest(service).variables.KAFKA_BROKERS).toEqual({
      from_cfn: '${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}-KafkaBootstrapBrokers',
    });
  }
});

test('When the MSK addon is read, then the cluster uses IAM auth and only the services security group reaches it', () => {
  const { template } = addonTemplates('environments').find(({ file }) => file.endsWith('msk-cluster.yml'))!;
  const cluster = Object.values(template.Resources).find((r) => r.Type === 'AWS::MSK::ServerlessCluster')!;
  expect(cluster.Properties!.ClientAuthentication).toEqual({ Sasl: { Iam: { Enabled: true } } });
  const groups = Object.values(template.Resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroup');
  expect(groups).toHaveLength(1);
  expect(groups[0]!.Properties!.SecurityGroupIngress).toEqual([
    expect.objectContaining({
      FromPort: 9098,
      ToPort: 9098,
      SourceSecurityGroupId: { Ref: 'EnvironmentSecurityGroup' },
    }),
  ]);
  // Copilot hands the environment's VPC, private subnets and service security group to the addon.
  const parameters = readTemplate(path.join(copilot, 'environments/addons/addons.parameters.yml')).Parameters!;
  expect(Object.keys(parameters).sort()).toEqual(
    Object.keys(template.Parameters!)
      .filter((name) => name !== 'App' && name !== 'Env')
      .sort(),
  );
  expect(parameters.EnvironmentSecurityGroup).toEqual({ Ref: 'EnvironmentSecurityGroup' });
});

describe('IAM in the addon templates', () => {
  const statements = allTemplates.flatMap(({ file, template }) =>
    policyStatements(template).map((entry) => ({ file, ...entry })),
  );

  test('When every policy statement is read, then no action is a wildcard and no table, stream or cluster resource is *', () => {
    expect(statements.length).toBeGreaterThan(5);
    for (const { file, statement } of statements) {
      for (const action of asList(statement.Action)) {
        expect({ file, action, wildcard: String(action).includes('*') }).toEqual({ file, action, wildcard: false });
      }
      const actions = asList(statement.Action).map(String);
      if (actions.some((action) => /^(dynamodb|kafka-cluster|kafka):/.test(action))) {
        for (const resource of asList(statement.Resource)) expect(resource).not.toBe('*');
      }
    }
  });

  test('When the relay reads the outbox stream, then it may read any stream of the outbox table (a replaced stream gets a new ARN)', () => {
    const stream = statements.find(({ statement }) => asList(statement.Action).includes('dynamodb:GetRecords'))!;
    expect(stream.file).toBe(path.join('outbox-relay', 'addons', 'relay-tables.yml'));
    expect(stream.statement.Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::ImportValue': { 'Fn::Sub': '${App}-${Env}-OrderOutboxTableArn' } }, '/stream/*']],
    });
  });

  test('When the Kafka policies are read, then the relay writes the topic and its DLQ, the notifier reads the topic, joins its group and writes the DLQ, and both may create the two topics, nothing more', () => {
    const kafkaGrants = (service: string) => {
      const { template } = addonTemplates(service).find(({ file }) => file.endsWith('kafka-access.yml'))!;
      const mappings = Object.values(template.Mappings!)[0]!.OrderEvents!;
      const resolveName = (resource: unknown): string => {
        const sub = (resource as { 'Fn::Sub'?: unknown })['Fn::Sub'];
        if (!Array.isArray(sub)) return 'cluster';
        const [pattern, values] = sub as [string, Record<string, unknown>];
        const kind = /:(topic|group|transactional-id)\//.exec(pattern)![1]!;
        const [key, found] = Object.entries(values).find(([name]) => name !== 'Cluster')!;
        const mapKey = (found as { 'Fn::FindInMap': string[] })['Fn::FindInMap'][2]!;
        expect(key).toBeDefined();
        return `${kind}:${mappings[mapKey]}`;
      };
      const grants = new Set<string>();
      for (const { statement } of policyStatements(template)) {
        for (const resource of asList(statement.Resource)) {
          for (const action of asList(statement.Action)) grants.add(`${String(action)} ${resolveName(resource)}`);
        }
      }
      return [...grants].sort();
    };

    const topic = String(manifest('outbox-relay').variables.ORDER_EVENTS_TOPIC);
    expect(manifest('notifier').variables.ORDER_EVENTS_TOPIC).toBe(topic);
    const dlq = deadLetterTopicFor(topic);
    const group = String(manifest('notifier').variables.NOTIFIER_GROUP_ID);
    // Both services create the two topics at start when missing (KAFKA_ENSURE_TOPICS=true).
    for (const service of ['outbox-relay', 'notifier'])
      expect(manifest(service).variables.KAFKA_ENSURE_TOPICS).toBe('true');
    const ensureTopics = [topic, dlq].flatMap((name) => [
      `kafka-cluster:CreateTopic topic:${name}`,
      `kafka-cluster:DescribeTopicDynamicConfiguration topic:${name}`,
    ]);

    expect(kafkaGrants('outbox-relay')).toEqual(
      [
        'kafka-cluster:Connect cluster',
        'kafka-cluster:WriteDataIdempotently cluster',
        `kafka-cluster:DescribeTopic topic:${topic}`,
        `kafka-cluster:WriteData topic:${topic}`,
        `kafka-cluster:DescribeTopic topic:${dlq}`,
        `kafka-cluster:WriteData topic:${dlq}`,
        ...ensureTopics,
      ].sort(),
    );
    expect(kafkaGrants('notifier')).toEqual(
      [
        'kafka-cluster:Connect cluster',
        'kafka-cluster:WriteDataIdempotently cluster',
        `kafka-cluster:DescribeTopic topic:${topic}`,
        `kafka-cluster:ReadData topic:${topic}`,
        `kafka-cluster:DescribeGroup group:${group}`,
        `kafka-cluster:AlterGroup group:${group}`,
        `kafka-cluster:DescribeTopic topic:${dlq}`,
        `kafka-cluster:WriteData topic:${dlq}`,
        ...ensureTopics,
      ].sort(),
    );
  });
});

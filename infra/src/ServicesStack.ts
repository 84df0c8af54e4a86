import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { AddonStack } from './AddonStack';
import { deploymentSettings } from './deploymentSettings';
import type { PlatformStack } from './PlatformStack';

/** The three services; each is one image built by the repo's Dockerfile with `SERVICE=<name>`. */
export type ServiceName = 'order-api' | 'outbox-relay' | 'notifier';

/** Options for {@link ServicesStack}. */
export interface ServicesStackProps extends StackProps {
  appName: string;
  envName: string;
  platform: PlatformStack;
  ordersAddons: AddonStack;
  relayAddons: AddonStack;
  notifierAddons: AddonStack;
  /** The container image of each service. */
  image: (service: ServiceName) => ecs.ContainerImage;
  desiredCounts: Record<ServiceName, number>;
  /** An ACM certificate for HTTPS on the load balancer; plain HTTP on port 80 without one. */
  certificateArn?: string;
}

const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

/** The container health check of a worker: its `/healthz` on its own port, with Node's fetch. */
function workerHealthCheck(port: number): ecs.HealthCheck {
  const probe = `fetch('http://127.0.0.1:${port}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  return {
    command: ['CMD', 'node', '-e', probe],
    interval: Duration.seconds(10),
    retries: 3,
    timeout: Duration.seconds(5),
    startPeriod: Duration.seconds(30),
  };
}

/**
 * The three Fargate services in the private subnets: order-api behind a public Application Load
 * Balancer (health check `/readyz` on the ops port), the relay (two tasks: a leader and a
 * standby, with a stop window to checkpoint and release the lease) and the notifier.
 */
/** The collector's configuration: OTLP in on localhost only, traces out to X-Ray, nothing else. */
const COLLECTOR_CONFIG = [
  'receivers:',
  '  otlp:',
  '    protocols:',
  '      grpc: { endpoint: "127.0.0.1:4317" }',
  '      http: { endpoint: "127.0.0.1:4318" }',
  'processors:',
  '  batch/traces: { timeout: 1s, send_batch_size: 50 }',
  'exporters:',
  '  awsxray: {}',
  'service:',
  '  pipelines:',
  '    traces: { receivers: [otlp], processors: [batch/traces], exporters: [awsxray] }',
].join('\n');

/**
 * Adds the AWS Distro for OpenTelemetry collector beside `app` and lets the task write to X-Ray.
 * The collector is not essential: a task whose collector stops keeps serving, without traces.
 */
function addTracingCollector(
  taskDefinition: ecs.FargateTaskDefinition,
  app: ecs.ContainerDefinition,
  logGroup: logs.ILogGroup,
): void {
  const collector = taskDefinition.addContainer('otel-collector', {
    image: ecs.ContainerImage.fromRegistry(deploymentSettings.tracing.collectorImage),
    essential: false,
    memoryReservationMiB: 64,
    // The collector reads its configuration from this variable (in place of a file in the image).
    environment: { AOT_CONFIG_CONTENT: COLLECTOR_CONFIG },
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'otel-collector' }),
  });
  app.addContainerDependencies({ container: collector, condition: ecs.ContainerDependencyCondition.START });
  // X-Ray's write actions have no resource-level permissions: `*` is the only resource they take.
  taskDefinition.addToTaskRolePolicy(
    new iam.PolicyStatement({
      actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
      resources: ['*'],
    }),
  );
}

export class ServicesStack extends Stack {
  constructor(scope: Construct, id: string, props: ServicesStackProps) {
    super(scope, id, props);
    const { platform, appName, envName } = props;
    const { ports } = deploymentSettings;
    const common = { LOG_LEVEL: 'info', AWS_REGION: this.region };
    const kafka = {
      KAFKA_BROKERS: platform.kafkaBootstrapBrokers,
      KAFKA_SECURITY: deploymentSettings.kafkaSecurity,
      ORDER_EVENTS_TOPIC: deploymentSettings.orderEventsTopic,
      KAFKA_ENSURE_TOPICS: deploymentSettings.kafkaTopics.ensure,
      KAFKA_TOPIC_REPLICATION_FACTOR: deploymentSettings.kafkaTopics.replicationFactor,
    };

    const service = (
      name: ServiceName,
      options: {
        cpu: number;
        memoryLimitMiB: number;
        port: number;
        environment: Record<string, string>;
        secrets?: Record<string, ecs.Secret>;
        policies: string[];
        healthCheck?: ecs.HealthCheck;
        stopTimeout?: Duration;
        /** Kafka clients run in the platform's services security group, the one the cluster admits. */
        kafkaClient: boolean;
      },
    ): ecs.FargateService => {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${name}-task`, {
        cpu: options.cpu,
        memoryLimitMiB: options.memoryLimitMiB,
        runtimePlatform: {
          cpuArchitecture: ecs.CpuArchitecture.X86_64,
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        },
      });
      options.policies.forEach((arn, index) =>
        taskDefinition.taskRole.addManagedPolicy(
          iam.ManagedPolicy.fromManagedPolicyArn(this, `${name}-policy-${index}`, arn),
        ),
      );
      const logGroup = new logs.LogGroup(this, `${name}-logs`, {
        logGroupName: `/${appName}/${envName}/${name}`,
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const app = taskDefinition.addContainer(name, {
        image: props.image(name),
        environment: {
          ...common,
          PORT: String(options.port),
          OTEL_EXPORTER_OTLP_ENDPOINT: deploymentSettings.tracing.otlpEndpoint,
          ...options.environment,
        },
        secrets: options.secrets,
        portMappings: [{ containerPort: options.port }],
        healthCheck: options.healthCheck,
        stopTimeout: options.stopTimeout,
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: name }),
      });
      addTracingCollector(taskDefinition, app, logGroup);
      return new ecs.FargateService(this, name, {
        cluster: platform.cluster,
        taskDefinition,
        desiredCount: props.desiredCounts[name],
        vpcSubnets: privateSubnets,
        assignPublicIp: false,
        // Without Kafka, a security group of its own (in this stack, so the load balancer's rules
        // create no cycle between the stacks).
        securityGroups: options.kafkaClient ? [platform.servicesSecurityGroup] : undefined,
        circuitBreaker: { rollback: true },
        minHealthyPercent: 100,
      });
    };

    // The issuer settings live in SSM, the same parameters Copilot's `secrets:` read.
    const authParameter = (name: string) =>
      ecs.Secret.fromSsmParameter(
        ssm.StringParameter.fromStringParameterName(
          this,
          `ssm-${name}`,
          `/copilot/${appName}/${envName}/secrets/${name}`,
        ),
      );

    const orderApi = service('order-api', {
      cpu: 512,
      memoryLimitMiB: 1024,
      port: ports.orderApi,
      environment: {
        OPS_PORT: String(ports.orderApiOps),
        CURRENCY: deploymentSettings.currency,
        AUTH_MODE: 'jwt',
        ORDERS_TABLE: props.ordersAddons.output('OrdersTableName'),
        OUTBOX_TABLE: props.ordersAddons.output('OrderOutboxTableName'),
      },
      secrets: {
        AUTH_JWT_ISSUER: authParameter('auth-jwt-issuer'),
        AUTH_JWT_AUDIENCE: authParameter('auth-jwt-audience'),
        AUTH_JWKS_URL: authParameter('auth-jwks-url'),
      },
      policies: [props.ordersAddons.output('OrdersTablesAccessPolicyArn')],
      kafkaClient: false,
    });

    service('outbox-relay', {
      cpu: 256,
      memoryLimitMiB: 512,
      port: ports.relay,
      environment: {
        ...kafka,
        RELAY_STATE_TABLE: props.relayAddons.output('RelayStateTableName'),
        OUTBOX_TABLE: props.ordersAddons.output('OrderOutboxTableName'),
        LEASE_DURATION_MS: deploymentSettings.relayLeaseDurationMs,
      },
      policies: [
        props.relayAddons.output('RelayTablesAccessPolicyArn'),
        props.relayAddons.output('RelayKafkaAccessPolicyArn'),
      ],
      healthCheck: workerHealthCheck(ports.relay),
      stopTimeout: Duration.seconds(deploymentSettings.relayStopTimeoutSeconds),
      kafkaClient: true,
    });

    service('notifier', {
      cpu: 256,
      memoryLimitMiB: 512,
      port: ports.notifier,
      environment: {
        ...kafka,
        NOTIFIER_GROUP_ID: deploymentSettings.notifierGroupId,
        NOTIFICATIONS_TABLE: props.notifierAddons.output('NotificationsTableName'),
      },
      policies: [
        props.notifierAddons.output('NotificationsTableAccessPolicyArn'),
        props.notifierAddons.output('NotifierKafkaAccessPolicyArn'),
      ],
      healthCheck: workerHealthCheck(ports.notifier),
      kafkaClient: true,
    });

    const loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: platform.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    });
    const listener = props.certificateArn
      ? loadBalancer.addListener('Https', {
          port: 443,
          certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
        })
      : loadBalancer.addListener('Http', { port: 80 });
    listener.addTargets('order-api', {
      port: ports.orderApi,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [orderApi.loadBalancerTarget({ containerName: 'order-api', containerPort: ports.orderApi })],
      deregistrationDelay: Duration.seconds(15),
      healthCheck: {
        path: '/readyz',
        port: String(ports.orderApiOps),
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });
    // The target group checks the ops port, which the listener's own rule does not open.
    orderApi.connections.allowFrom(loadBalancer, ec2.Port.tcp(ports.orderApiOps), 'ALB health checks on the ops port');

    new CfnOutput(this, 'OrderApiUrl', {
      value: `${props.certificateArn ? 'https' : 'http'}://${loadBalancer.loadBalancerDnsName}`,
    });
  }
}

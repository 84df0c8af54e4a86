/**
 * Settings the services get in every environment, the same as the Copilot manifests set
 * (infra/test/outboxApp.test.ts keeps the two in step).
 */
export const deploymentSettings = {
  orderEventsTopic: 'order-notification-event-topic',
  notifierGroupId: 'notifier',
  currency: 'USD',
  /** MSK Serverless with IAM authentication (OAUTHBEARER over TLS, port 9098). */
  kafkaSecurity: 'sasl-iam',
  /**
   * The relay and the notifier create the topic and its DLQ at start when missing
   * (docs/adr/kafka-topics-at-service-start.md); MSK Serverless sets replication itself (-1).
   */
  kafkaTopics: { ensure: 'true', replicationFactor: '-1' },
  ports: { orderApi: 8080, orderApiOps: 9100, relay: 9101, notifier: 9102 },
  /**
   * The relay task's LEASE_DURATION_MS: at 0.25 vCPU its event loop lags up to 1–2 s under a
   * backlog, so the 2 s default would let shard leases lapse and move (bench/README.md).
   */
  relayLeaseDurationMs: '6000',
  /** Seconds ECS waits after SIGTERM: the relay finishes its batch, checkpoints and releases its lease. */
  relayStopTimeoutSeconds: 60,
  /**
   * Traces: each task runs an AWS Distro for OpenTelemetry collector beside the service (as Copilot's
   * `observability.tracing: awsxray` does); the service sends OTLP/HTTP to it on localhost and it
   * forwards the traces to AWS X-Ray.
   */
  tracing: {
    collectorImage: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
    /** The service appends `/v1/traces` (packages/shared/src/observability/startTracing.ts). */
    otlpEndpoint: 'http://localhost:4318',
  },
} as const;

export { AppError, toAppError } from './errors/AppError';
export type { AppErrorOptions } from './errors/AppError';
export { ConfigError } from './config/ConfigError';
export { parseConfig } from './config/parseConfig';
export { commonSettings, kafkaSettings, portSetting } from './config/commonSettings';
export { ENVELOPE_SCHEMA_VERSION } from './events/OrderEventEnvelope';
export type {
  OrderEventEnvelope,
  OrderEventType,
  OrderCreatedPayload,
  OrderLinePayload,
} from './events/OrderEventEnvelope';
export { envelopeSchema, parseEnvelope } from './events/parseEnvelope';
export { EVENT_HEADERS } from './events/eventHeaders';
export { default as envelopeJsonSchema } from './events/orderEventEnvelope.schema.json';
export { createLogger } from './observability/createLogger';
export type { Logger, CreateLoggerOptions } from './observability/createLogger';
export { createMetricsRegistry } from './observability/createMetricsRegistry';
export type { CreateMetricsRegistryOptions } from './observability/createMetricsRegistry';
export { startTracing } from './observability/startTracing';
export type { StartTracingOptions, Tracing } from './observability/startTracing';
export type { AwsClientOptions } from './aws/AwsClientOptions';
export { createDynamoDbClients } from './aws/createDynamoDbClients';
export { createDynamoDbStreamsClient } from './aws/createDynamoDbStreamsClient';
export { createKinesisClient } from './aws/createKinesisClient';
export { createKafka } from './kafka/createKafka';
export type { CreateKafkaOptions } from './kafka/createKafka';
export { topicDefinitions, deadLetterTopicFor, TOPIC_MAX_MESSAGE_BYTES } from './kafka/topicDefinitions';
export type { TopicDefinition, TopicDefinitionsOptions } from './kafka/topicDefinitions';
export { onShutdownSignal } from './lifecycle/onShutdownSignal';
export { sharedPromise } from './lifecycle/sharedPromise';
export { withTimeout } from './lifecycle/withTimeout';
export { exponentialBackoff } from './lifecycle/exponentialBackoff';
export type { BackoffOptions } from './lifecycle/exponentialBackoff';
export { awsRequestHandler } from './aws/awsRequestHandler';
export { closeServer } from './http/closeServer';
export { listen } from './http/listen';
export { createOpsServer } from './http/createOpsServer';
export type { OpsServerOptions } from './http/createOpsServer';
export { waitFor } from './testing/waitFor';
export type { WaitForOptions } from './testing/waitFor';
export type { OrderCancelledPayload } from './events/OrderCancelledPayload';
export {
  OUTBOX_TIME_INDEX,
  OUTBOX_TIME_INDEX_ATTRIBUTES,
  OUTBOX_TIME_INDEX_PARTITIONS,
  hourStart,
  nextHour,
  outboxTimeIndexKeys,
  outboxTimeIndexPartitionKeys,
} from './events/outboxTimeIndex';
export type { OutboxTimeIndexKeys } from './events/outboxTimeIndex';

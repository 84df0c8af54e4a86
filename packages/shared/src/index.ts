export { AppError, toAppError } from './errors/AppError';
export type { AppErrorOptions } from './errors/AppError';
export { ConfigError } from './config/ConfigError';
export { parseConfig } from './config/parseConfig';
export { commonSettings, kafkaSettings, portSetting } from './config/commonSettings';
export { optionalSetting } from './config/optionalSetting';
export {
  configReferenceRows,
  configReferenceTable,
  markdownTableCells,
  readGeneratedSection,
  replaceGeneratedSection,
} from './config/configReference';
export type { ConfigReferenceOptions, ConfigReferenceRow, SettingMeta } from './config/configReference';
export {
  ENVELOPE_SCHEMA_VERSION,
  ORDER_EVENT_TYPES,
  envelopeSchema,
  eventTypeLabel,
} from './events/OrderEventEnvelope';
export type { OrderEventEnvelope, OrderEventType } from './events/OrderEventEnvelope';
export {
  ORDER_EVENT_PAYLOADS,
  orderCancelledPayloadV1,
  orderCreatedPayloadV1,
  orderEventSchema,
  orderEventVersions,
  orderLinePayloadV1,
  payloadSchemaFor,
} from './events/orderEventPayloads';
export type {
  OrderCancelledPayload,
  OrderCreatedPayload,
  OrderEventPayloads,
  OrderLinePayload,
} from './events/orderEventPayloads';
export { newOrderEvent } from './events/newOrderEvent';
export { eventJsonSchemaFiles, toEventJsonSchema } from './events/eventJsonSchemas';
export { parseEnvelope } from './events/parseEnvelope';
export { EVENT_HEADERS } from './events/eventHeaders';
export { default as envelopeJsonSchema } from './events/orderEventEnvelope.schema.json';
export { createLogger } from './observability/createLogger';
export type { Logger, CreateLoggerOptions } from './observability/createLogger';
export { createMetricsRegistry } from './observability/createMetricsRegistry';
export type { CreateMetricsRegistryOptions } from './observability/createMetricsRegistry';
export { createTracingDiagLogger } from './observability/createTracingDiagLogger';
export type { CreateTracingDiagLoggerOptions } from './observability/createTracingDiagLogger';
export { createTracingMetrics } from './observability/createTracingMetrics';
export { SpanExportStats } from './observability/SpanExportStats';
export type { SpanExportCounts } from './observability/SpanExportStats';
export { shutdownTracing, spanExportCounts, startTracing, tracesUrlFrom } from './observability/startTracing';
export { samplerFrom } from './observability/tracingSampler';
export { parseResourceAttributes, resourceAttributesFrom } from './observability/tracingResource';
export { TRACEPARENT_PATTERN, contextFromTraceHeaders, serverSpan, traceHeadersOf } from './observability/traceHeaders';
export type { TraceHeaders } from './observability/traceHeaders';
export type { StartTracingOptions, Tracing } from './observability/startTracing';
export type { AwsClientOptions } from './aws/AwsClientOptions';
export { createDynamoDbClients } from './aws/createDynamoDbClients';
export { createDynamoDbStreamsClient } from './aws/createDynamoDbStreamsClient';
export { createKinesisClient } from './aws/createKinesisClient';
export { createKafka } from './kafka/createKafka';
export type { CreateKafkaOptions } from './kafka/createKafka';
export { KAFKA_SECURITY_MODES, describeKafkaSecurity } from './kafka/KafkaSecurity';
export type { KafkaSecurity, KafkaSecurityMode } from './kafka/KafkaSecurity';
export { checkKafkaSettings, kafkaConfigFromSettings } from './config/kafkaConfigFromSettings';
export type { KafkaClientConfig, KafkaSettings } from './config/kafkaConfigFromSettings';
export { createMskIamTokenProvider } from './kafka/createMskIamTokenProvider';
export type { AwsCredentials, MskIamTokenProviderOptions, MskTokenSigner } from './kafka/createMskIamTokenProvider';
export { ensureTopics } from './kafka/ensureTopics';
export type { EnsureTopicsOptions, EnsureTopicsReport } from './kafka/ensureTopics';
export { topicDefinitions, deadLetterTopicFor, TOPIC_MAX_MESSAGE_BYTES } from './kafka/topicDefinitions';
export type { TopicDefinition, TopicDefinitionsOptions } from './kafka/topicDefinitions';
export { onShutdownSignal } from './lifecycle/onShutdownSignal';
export { sharedPromise } from './lifecycle/sharedPromise';
export { withTimeout } from './lifecycle/withTimeout';
export { exponentialBackoff } from './lifecycle/exponentialBackoff';
export type { BackoffOptions } from './lifecycle/exponentialBackoff';
export { pollUntil } from './lifecycle/pollUntil';
export type { PollUntilOptions } from './lifecycle/pollUntil';
export { awsRequestHandler } from './aws/awsRequestHandler';
export { closeServer } from './http/closeServer';
export { listen } from './http/listen';
export { createOpsServer } from './http/createOpsServer';
export type { OpsServerOptions } from './http/createOpsServer';
export { DEAD_LETTER_HEADERS, DEAD_LETTER_ORIGINS, headerText } from './deadLetter/deadLetterHeaders';
export type { DeadLetterOrigin } from './deadLetter/deadLetterHeaders';
export { DEAD_LETTER_REASONS, deadLetterReasonFor } from './deadLetter/deadLetterReasons';
export type { DeadLetterReason } from './deadLetter/deadLetterReasons';
export { buildDeadLetterHeaders, relayDeadLetterValue } from './deadLetter/buildDeadLetterHeaders';
export type { DeadLetterHeadersOptions } from './deadLetter/buildDeadLetterHeaders';
export { DEAD_LETTER_ONLY_HEADERS, readDeadLetter } from './deadLetter/readDeadLetter';
export type { DeadLetterInfo } from './deadLetter/readDeadLetter';
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
export { SERVICE_ALLOCATOR_ENV, SERVICE_NODE_FLAGS } from './runtime/serviceRuntime';

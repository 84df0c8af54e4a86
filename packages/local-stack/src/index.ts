export { DynamoDbLocalServer } from './DynamoDbLocalServer';
export type { DynamoDbLocalServerOptions } from './DynamoDbLocalServer';
export { ensureTables } from './ensureTables';
export type { EnsureTablesOptions } from './ensureTables';
export { ensureTopics } from './ensureTopics';
export type { EnsureTopicsOptions } from './ensureTopics';
export { KafkaServer, KAFKA_VERSION, newKafkaClusterId } from './KafkaServer';
export type { KafkaServerOptions, KafkaScramUser, KafkaTlsListenersOptions } from './KafkaServer';
export { createTestCertificates } from './createTestCertificates';
export type { CreateTestCertificatesOptions, TestCertificates } from './createTestCertificates';
export { kinesisDestinationRecord } from './kinesisDestinationRecord';
export { KinesaliteServer } from './KinesaliteServer';
export type { KinesaliteServerOptions } from './KinesaliteServer';
export type { LocalServerOptions } from './LocalServer';
export { startLocalStack } from './LocalStack';
export type { LocalStack, LocalStackEndpoints, LocalStackOptions } from './LocalStack';
export { localDynamoDbClient } from './localDynamoDbClient';
export { portIsOpen } from './portIsOpen';
export { readTableTemplates } from './readTableTemplates';
export type { TableTemplate } from './readTableTemplates';
export { JAVA_REQUIRED_MESSAGE, MAVEN_REQUIRED_MESSAGE } from './requiredTools';
export type { ServerHandle } from './ServerHandle';
export {
  PrometheusServer,
  PROMETHEUS_REQUIRED_MESSAGE,
  prometheusConfig,
  prometheusInstalled,
  repoPrometheusConfigFile,
  repoPrometheusTargets,
} from './PrometheusServer';
export type { PrometheusConfigOptions, PrometheusServerOptions } from './PrometheusServer';

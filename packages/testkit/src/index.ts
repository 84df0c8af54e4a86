/**
 * The test kit: fixtures every workspace's tests share. Tests only: no service or package depends
 * on it at run time. Jest's globalSetup and globalTeardown are `src/globalSetup.ts` and
 * `src/globalTeardown.ts` (named in the root jest.config.js), not exported here.
 */
export { createTestTables, createTestTopic, pipelineEnv, scanAll, testEndpoints, uniqueName } from './testStack';
export type { TestTables } from './testStack';
export { freePort, startServiceProcess } from './serviceProcess';
export type { ServiceProcess } from './serviceProcess';
export { startRunningPipeline } from './runningPipeline';
export type { RunningPipeline } from './runningPipeline';
export { readTopic } from './topicReader';
export type { ReadRecord } from './topicReader';
export { metricValue, parseMetrics, scrape, scrapeMetrics } from './metrics';
export type { MetricSample, MetricsSource } from './metrics';
export { waitFor } from './waitFor';
export type { WaitForOptions } from './waitFor';
export { startPrometheus } from './prometheusServer';
export type { PrometheusServer, TestPrometheus } from './prometheusServer';
export { runPromtool } from './promtool';
export type { PromtoolResult } from './promtool';
export { metricNamesIn } from './promql';
export { SPAN_KIND, startOtlpReceiver } from './otlpReceiver';
export type { ReceivedSpan } from './otlpReceiver';
export { startWebhookReceiver } from './webhookReceiver';
export type { ReceivedRequest, Responder } from './webhookReceiver';
export { orderCancelled, orderCreated, outboxItem } from './events';
export { postOrder, TEST_CUSTOMER_ID } from './postOrder';
export type { PostOrderOptions } from './postOrder';
export type { OutboxItemFields } from './events';

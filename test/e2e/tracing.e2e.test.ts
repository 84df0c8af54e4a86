import { randomBytes } from 'node:crypto';
import { startWebhookReceiver, postOrder } from '@outbox/testkit';
import {
  createTestTables,
  createTestTopic,
  metricValue,
  pipelineEnv,
  readTopic,
  type ReceivedSpan,
  scanAll,
  scrapeMetrics,
  type ServiceProcess,
  SPAN_KIND,
  startOtlpReceiver,
  startServiceProcess,
  type TestTables,
  waitFor,
} from '@outbox/testkit';

const WEBHOOK_SECRET = 'tracing-test-secret-0123456789';
/** Resource attributes every service is given; a comma in a value is percent-encoded. */
const RESOURCE_ATTRIBUTES = 'deployment.environment.name=e2e, team=orders%2C%20payments';

/** Fresh tables and topic, and the three services on them with `env`, plus `apiEnv` for order-api alone. */
async function startPipeline(
  webhookUrl: string,
  env: Record<string, string> = {},
  apiEnv: Record<string, string> = {},
) {
  const tables = await createTestTables();
  const topic = await createTestTopic();
  const shared = { ...pipelineEnv(tables, topic), WEBHOOK_URL: webhookUrl, WEBHOOK_SECRET, ...env };
  const [api, relay, notifier] = await Promise.all([
    startServiceProcess('order-api', { ...shared, ...apiEnv }),
    startServiceProcess('outbox-relay', shared),
    startServiceProcess('notifier', shared),
  ]);
  return { tables, topic, api, relay, notifier };
}

describe('one trace per order, each service its own process exporting over OTLP', () => {
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let tables: TestTables;
  let topic: string;
  let api: ServiceProcess;
  let relay: ServiceProcess;
  let notifier: ServiceProcess;
  // Set by a test to make the webhook refuse for good, so the notifier dead-letters (and logs) inside its span.
  let refuseWebhook = false;

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    webhook = await startWebhookReceiver(WEBHOOK_SECRET, () => (refuseWebhook ? 400 : 200));
    ({ tables, topic, api, relay, notifier } = await startPipeline(webhook.url, {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_RESOURCE_ATTRIBUTES: RESOURCE_ATTRIBUTES,
    }));
  });

  afterAll(async () => {
    await Promise.all([api, relay, notifier].filter(Boolean).map((p) => p.kill()));
    await Promise.all([otlp?.stop(), webhook?.stop()]);
  });

  async function placeOrder(headers: Record<string, string> = {}): Promise<string> {
    const placed = await postOrder(api.port, { headers });
    expect(placed.status).toBe(201);
    return ((await placed.json()) as { orderId: string }).orderId;
  }

  async function outboxItemOf(orderId: string): Promise<Record<string, unknown>> {
    const items = (await scanAll(tables.outbox)).filter((item) => item.aggregateId === orderId);
    expect(items).toHaveLength(1);
    return items[0];
  }

  /** The notifier's own consumer span of the event, once exported. */
  function consumerSpanOf(eventId: string): Promise<ReceivedSpan> {
    return waitFor(
      () =>
        otlp.spans.find(
          (s) =>
            s.service === 'notifier' &&
            s.kind === SPAN_KIND.consumer &&
            s.attributes['messaging.message.id'] === eventId,
        ),
      { timeoutMs: 30000, what: `the notifier's consumer span of ${eventId}` },
    );
  }

  const childrenOf = (parent: ReceivedSpan) =>
    otlp.spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId);

  test('When an order is posted, then the API server span, the relay producer span and the notifier consumer span form one trace, with the DynamoDB transaction and the webhook call under the consumer span', async () => {
    const orderId = await placeOrder();
    const item = await outboxItemOf(orderId);
    const [, traceId, storedSpanId] = String(item.traceparent).split('-');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const consumer = await consumerSpanOf(String(item.eventId));
    // The webhook call and the transaction end before the consumer span; wait for every child to arrive.
    const [transaction, webhookCall] = await waitFor(
      () => {
        const children = childrenOf(consumer);
        const tx = children.find(
          (s) => s.kind === SPAN_KIND.client && s.attributes['rpc.method'] === 'TransactWriteItems',
        );
        const call = children.find((s) => s.kind === SPAN_KIND.client && s.attributes['url.full'] === webhook.url);
        return tx && call ? ([tx, call] as const) : undefined;
      },
      { timeoutMs: 10000, what: 'the consumer span children (DynamoDB transaction, webhook call)' },
    );
    // Each service exports on its own schedule: the relay's producer span (it ends when Kafka
    // acknowledged) and the API's server span may arrive after the notifier's.
    const [server, producer] = await waitFor(
      () => {
        const api = otlp.spans.find((s) => s.spanId === storedSpanId);
        const relay = otlp.spans.find((s) => s.spanId === consumer.parentSpanId);
        return api && relay ? ([api, relay] as const) : undefined;
      },
      { timeoutMs: 10000, what: "the API's server span and the relay's producer span" },
    );

    // order-api: the stored context is the request's server span, the root of the trace.
    expect(server).toMatchObject({ service: 'order-api', kind: SPAN_KIND.server, traceId, parentSpanId: '' });
    // outbox-relay: a producer span, child of the stored context.
    expect(producer).toMatchObject({
      service: 'outbox-relay',
      kind: SPAN_KIND.producer,
      name: `publish ${topic}`,
      traceId,
      parentSpanId: storedSpanId,
    });
    // notifier: the consumer span continues the relay's, and its effects are its children.
    expect(consumer).toMatchObject({ service: 'notifier', name: `process ${topic}`, traceId });
    expect(transaction.service).toBe('notifier');
    expect(webhookCall.service).toBe('notifier');
    expect(webhook.accepted.get(String(item.eventId))).toBe(1);

    const services = new Set(otlp.spans.filter((s) => s.traceId === traceId).map((s) => s.service));
    expect([...services].sort()).toEqual(['notifier', 'order-api', 'outbox-relay']);
    // Background calls (stream polling, lease renewals) start no traces: the relay exports only its producer spans.
    expect(otlp.spans.filter((s) => s.service === 'outbox-relay').map((s) => s.kind)).toEqual([SPAN_KIND.producer]);
  });

  test('When OTEL_RESOURCE_ATTRIBUTES is set, then every span of every service carries those attributes (values percent-decoded) beside its own service.name', async () => {
    await placeOrder();
    const services = await waitFor(
      () => {
        const seen = new Set(otlp.spans.map((s) => s.service));
        return seen.size === 3 && seen;
      },
      { timeoutMs: 30000, what: 'spans of all three services' },
    );
    expect([...services].sort()).toEqual(['notifier', 'order-api', 'outbox-relay']);
    for (const span of otlp.spans) {
      expect(span.resource).toMatchObject({
        'service.name': span.service,
        'deployment.environment.name': 'e2e',
        team: 'orders, payments',
        'telemetry.sdk.language': 'nodejs',
      });
    }
  });

  test('When the spans have reached the collector, then each service counts as exported exactly the spans the collector received, and none lost', async () => {
    await placeOrder();
    for (const service of [api, relay, notifier]) {
      const name = (await scrapeMetrics(service)).match(/service="([a-z-]+)"/)?.[1];
      const counted = await waitFor(
        async () => {
          const text = await scrapeMetrics(service);
          const exported = metricValue(text, 'tracing_spans_total', { outcome: 'exported' }) ?? 0;
          const received = otlp.spans.filter((s) => s.service === name).length;
          return exported > 0 && exported === received && { exported, received, text };
        },
        { timeoutMs: 30000, what: `${name}'s exported spans to match what the collector received` },
      );
      expect(metricValue(counted.text, 'tracing_spans_total', { outcome: 'dropped' })).toBe(0);
      expect(metricValue(counted.text, 'tracing_spans_total', { outcome: 'failed' })).toBeUndefined();
      expect(metricValue(counted.text, 'tracing_span_queue_capacity')).toBe(8192);
    }
  });

  test("When the caller sends traceparent and tracestate, then the order's spans in every service carry the caller's trace id and tracestate, and the notifier's logs carry trace_id and span_id", async () => {
    const callerTraceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    refuseWebhook = true;
    const orderId = await placeOrder({
      traceparent: `00-${callerTraceId}-${callerSpanId}-01`,
      tracestate: 'caller=order-test',
    });
    const item = await outboxItemOf(orderId);
    expect(String(item.traceparent)).toMatch(new RegExp(`^00-${callerTraceId}-[0-9a-f]{16}-01$`));
    expect(item.tracestate).toBe('caller=order-test');

    const consumer = await consumerSpanOf(String(item.eventId));
    expect(consumer.traceId).toBe(callerTraceId);
    expect(consumer.traceState).toBe('caller=order-test');
    // Each service exports on its own schedule: wait for the API's and the relay's spans as well.
    const [server, producer] = await waitFor(
      () => {
        const api = otlp.spans.find(
          (s) => s.service === 'order-api' && s.kind === SPAN_KIND.server && s.traceId === callerTraceId,
        );
        const relay = otlp.spans.find((s) => s.spanId === consumer.parentSpanId);
        return api && relay ? ([api, relay] as const) : undefined;
      },
      { timeoutMs: 10000, what: "the API's server span and the relay's producer span" },
    );
    expect(server.parentSpanId).toBe(callerSpanId);
    expect(producer).toMatchObject({
      service: 'outbox-relay',
      traceId: callerTraceId,
      traceState: 'caller=order-test',
    });

    // The webhook refused for good: the notifier dead-letters the event and says so in a log line of that span.
    const logLine = await waitFor(
      () =>
        notifier.output
          .join('')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((line) => line.msg === 'dead-lettered a message'),
      { timeoutMs: 10000, what: "the notifier's dead-letter log line" },
    );
    expect(logLine).toMatchObject({ trace_id: callerTraceId, span_id: consumer.spanId });
    // The dead letter's send (kafkajs instrumentation) is a child of the consumer span too.
    const deadLetterSend = await waitFor(
      () => childrenOf(consumer).find((s) => s.kind === SPAN_KIND.producer && s.name === `send ${topic}.dlq`),
      { timeoutMs: 10000, what: "the dead letter's send span" },
    );
    expect(deadLetterSend.service).toBe('notifier');
  });
});

describe('trace context with export off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  const processes: ServiceProcess[] = [];
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>> | undefined;
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await webhook?.stop();
  });

  test("When nothing is exported and a caller sends traceparent, then the outbox item, the relay's Kafka headers and the notifier's log line still carry the caller's trace id, each with its own span", async () => {
    expect(process.env.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    // The webhook refuses for good, so the notifier dead-letters the event and logs it inside its consumer span.
    webhook = await startWebhookReceiver(WEBHOOK_SECRET, () => 400);
    const { tables, topic, api, relay, notifier } = await startPipeline(webhook.url);
    processes.push(api, relay, notifier);
    const reader = await readTopic(topic);
    try {
      const callerTraceId = randomBytes(16).toString('hex');
      const callerSpanId = randomBytes(8).toString('hex');
      const placed = await postOrder(api.port, {
        headers: { traceparent: `00-${callerTraceId}-${callerSpanId}-01`, tracestate: 'caller=export-off' },
      });
      expect(placed.status).toBe(201);
      const { orderId } = (await placed.json()) as { orderId: string };
      const [item] = (await scanAll(tables.outbox)).filter((i) => i.aggregateId === orderId);
      // order-api: its server span, a child of the caller's span, is what the item stores.
      const [, storedTraceId, storedSpanId] = String(item.traceparent).split('-');
      expect(storedTraceId).toBe(callerTraceId);
      expect(storedSpanId).not.toBe(callerSpanId);
      expect(item.tracestate).toBe('caller=export-off');

      // outbox-relay: the record's headers carry its own producer span in the same trace.
      const [record] = await reader.waitForCount(1);
      const [, headerTraceId, producerSpanId] = String(record.headers.traceparent).split('-');
      expect(headerTraceId).toBe(callerTraceId);
      expect([callerSpanId, storedSpanId]).not.toContain(producerSpanId);
      expect(record.headers.tracestate).toBe('caller=export-off');

      // notifier: the log line written inside its consumer span names the trace and that span.
      const logLine = await waitFor(
        () =>
          notifier.output
            .join('')
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as Record<string, unknown>)
            .find((line) => line.msg === 'dead-lettered a message'),
        { timeoutMs: 30000, what: "the notifier's dead-letter log line" },
      );
      expect(logLine.trace_id).toBe(callerTraceId);
      expect(logLine.span_id).toMatch(/^[0-9a-f]{16}$/);
      expect([callerSpanId, storedSpanId, producerSpanId]).not.toContain(logLine.span_id);
    } finally {
      await reader.stop();
    }
  });
});

describe('sampling: order-api keeps no new trace (OTEL_TRACES_SAMPLER_ARG=0), the relay and the notifier follow its decision', () => {
  const processes: ServiceProcess[] = [];
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>> | undefined;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>> | undefined;
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await Promise.all([otlp?.stop(), webhook?.stop()]);
  });

  test("When order-api samples no new trace, then an order without a caller's context is exported by no service although its traceparent (flags 00) travels with it, while a caller's sampled trace is still exported whole (to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)", async () => {
    otlp = await startOtlpReceiver();
    webhook = await startWebhookReceiver(WEBHOOK_SECRET, () => 200);
    // Only order-api samples; the relay and the notifier keep their default (every new trace).
    const { tables, topic, api, relay, notifier } = await startPipeline(
      webhook.url,
      // The signal's own variable, a full URL, in place of the base one.
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.endpoint}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '200' },
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
    );
    processes.push(api, relay, notifier);
    const reader = await readTopic(topic);
    try {
      const unsampled = await postOrder(api.port);
      expect(unsampled.status).toBe(201);
      const { orderId } = (await unsampled.json()) as { orderId: string };
      const [item] = (await scanAll(tables.outbox)).filter((i) => i.aggregateId === orderId);
      const [, unsampledTraceId, , storedFlags] = String(item.traceparent).split('-');
      expect(storedFlags).toBe('00');
      const [record] = await reader.waitForCount(1);
      expect(String(record.headers.traceparent)).toMatch(new RegExp(`^00-${unsampledTraceId}-[0-9a-f]{16}-00$`));
      await waitFor(() => webhook?.accepted.get(String(item.eventId)) === 1, {
        timeoutMs: 30000,
        what: 'the unsampled order to be notified',
      });

      // A caller's sampled context is followed by every service. Each exports its spans in the
      // order they ended, so once this order's spans arrived, the first order's would have too.
      const callerTraceId = randomBytes(16).toString('hex');
      const sampled = await postOrder(api.port, {
        headers: { traceparent: `00-${callerTraceId}-${randomBytes(8).toString('hex')}-01` },
      });
      expect(sampled.status).toBe(201);
      const services = await waitFor(
        () => {
          const seen = new Set(otlp?.spans.filter((s) => s.traceId === callerTraceId).map((s) => s.service));
          return seen.size === 3 && seen;
        },
        { timeoutMs: 30000, what: "the sampled order's spans from all three services" },
      );
      expect([...services].sort()).toEqual(['notifier', 'order-api', 'outbox-relay']);
      expect(otlp.spans.filter((s) => s.traceId === unsampledTraceId)).toEqual([]);
    } finally {
      await reader.stop();
    }
  });
});

import { postOrder } from './postOrder';
import { waitFor } from './waitFor';
import { scrape } from './metrics';
import { createTestTables, createTestTopic, pipelineEnv, type TestTables } from './testStack';
import { startServiceProcess, type ServiceProcess } from './serviceProcess';

/** The three services as processes on fresh tables and a fresh topic, with one order through them. */
export interface RunningPipeline {
  api: ServiceProcess;
  relay: ServiceProcess;
  notifier: ServiceProcess;
  tables: TestTables;
  topic: string;
  /** Each service by the metric prefix its own metrics carry. */
  byPrefix: { prefix: string; service: ServiceProcess; name: string }[];
  stop(): Promise<void>;
}

/**
 * Starts order-api, outbox-relay and notifier against the shared local stack, places one order
 * and waits until the notifier has processed its event, so every labelled series the normal path
 * produces exists. `extraEnv` goes to every service (for example the notifier's `WEBHOOK_URL`).
 */
export async function startRunningPipeline(extraEnv: Record<string, string> = {}): Promise<RunningPipeline> {
  const tables = await createTestTables();
  const topic = await createTestTopic();
  const env = {
    ...pipelineEnv(tables, topic),
    ...extraEnv,
  };
  const started = await Promise.allSettled([
    startServiceProcess('order-api', env),
    startServiceProcess('outbox-relay', env),
    startServiceProcess('notifier', env),
  ]);
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(running.map((service) => service.kill()));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const [api, relay, notifier] = running;
  try {
    const placed = await postOrder(api.port);
    if (placed.status !== 201) throw new Error(`placing the order answered ${placed.status}`);
    await waitFor(
      async () => ((await scrape(notifier, 'notifier_events_processed_total', { outcome: 'stored' })) ?? 0) > 0,
      {
        timeoutMs: 30000,
        what: 'the notifier to process the order event',
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    api,
    relay,
    notifier,
    tables,
    topic,
    byPrefix: [
      { name: 'order-api', prefix: 'order_api_', service: api },
      { name: 'outbox-relay', prefix: 'relay_', service: relay },
      { name: 'notifier', prefix: 'notifier_', service: notifier },
    ],
    stop,
  };
}

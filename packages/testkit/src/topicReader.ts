import type { IHeaders, KafkaMessage } from 'kafkajs';
import { createKafka, createLogger } from '@outbox/shared';
import { waitFor } from './waitFor';
import { testEndpoints, uniqueName } from './testStack';

/** A record as a test sees it. */
export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}

/** Reads a topic from its beginning in a group of its own, collecting every record. */
export async function readTopic(topic: string) {
  const kafka = createKafka({
    clientId: 'test-reader',
    brokers: testEndpoints().kafkaBrokers,
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), allowAutoTopicCreation: false });
  const records: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      records.push({
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        headers: headersOf(message.headers),
      });
    },
  });
  return {
    records,
    /** Waits until at least `count` records arrived, then returns them all. */
    async waitForCount(count: number, timeoutMs = 30000): Promise<ReadRecord[]> {
      await waitFor(() => records.length >= count, {
        timeoutMs,
        what: `${count} records on ${topic} (have ${records.length})`,
      });
      return records;
    },
    /** Waits until every record the topic holds now has been read, and returns them all. */
    async readToEnd(timeoutMs = 30000): Promise<ReadRecord[]> {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
        await waitFor(() => records.length >= total, { timeoutMs, what: `all ${total} records of ${topic}` });
        return records;
      } finally {
        await admin.disconnect();
      }
    },
    stop: () => consumer.disconnect(),
  };
}

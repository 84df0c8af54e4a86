import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SourceRecord } from '../source/StreamShard';

/** Reads outbox events the stream no longer holds; the relay fakes it in unit tests. */
export interface BackfillSource {
  /** Every outbox item with `occurredAt >= since` (all when `since` is undefined), in (aggregateId, seq) order. */
  readSince(since: string | undefined): Promise<SourceRecord[]>;
}

/** Options for {@link OutboxBackfill}. */
export interface OutboxBackfillOptions {
  doc: DynamoDBDocumentClient;
  /** The OrderOutbox table. */
  table: string;
  /** Parallel Scan segments (default 4). */
  segments?: number;
}

/**
 * Re-reads the OrderOutbox table when the stream lost records (trim horizon passed a checkpoint,
 * or the stream was replaced). A parallel Scan with a filter on `occurredAt`: it needs no extra
 * attribute or index, and the table stays small because TTL removes items after the retention
 * period (see docs/adr/outbox-relay-backfill-by-scan.md). Items come back as INSERT records in
 * (aggregateId, seq) order, so per-aggregate order holds.
 */
export class OutboxBackfill implements BackfillSource {
  private readonly options: OutboxBackfillOptions;

  constructor(options: OutboxBackfillOptions) {
    this.options = options;
  }

  async readSince(since: string | undefined): Promise<SourceRecord[]> {
    const segments = this.options.segments ?? 4;
    const parts = await Promise.all(
      Array.from({ length: segments }, (_, segment) => this.scanSegment(segment, segments, since)),
    );
    const items = parts.flat();
    items.sort((a, b) => compare(a, b));
    return items.map((item) => ({
      shardId: 'backfill',
      sequenceNumber: `${String(item.aggregateId)}#${String(item.seq)}`,
      eventName: 'INSERT',
      newImage: item,
    }));
  }

  private async scanSegment(segment: number, totalSegments: number, since: string | undefined) {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.options.doc.send(
        new ScanCommand({
          TableName: this.options.table,
          Segment: segment,
          TotalSegments: totalSegments,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      // Filtered here, not with a FilterExpression: occurredAt may carry any UTC offset, so text
      // comparison could be wrong, and a filter saves no read capacity anyway.
      const from = since === undefined ? -Infinity : Date.parse(since);
      items.push(...(page.Items ?? []).filter((item) => !(Date.parse(String(item.occurredAt)) < from)));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

function compare(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const byAggregate = String(a.aggregateId).localeCompare(String(b.aggregateId));
  return byAggregate !== 0 ? byAggregate : Number(a.seq) - Number(b.seq);
}

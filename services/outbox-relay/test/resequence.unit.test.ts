import { marshall } from '@aws-sdk/util-dynamodb';
import { toSourceRecord } from '../src/source/KinesisSource';
import { resequence } from '../src/relay/resequence';
import { toOutgoing } from '../src/relay/toOutgoing';
import { insert } from './fakes';

describe('Kinesis destination records', () => {
  test('When a batch holds one aggregate out of order and twice, then re-sequencing yields seq order with each (aggregate, seq) once, and other records after', () => {
    const remove = { shardId: 's', sequenceNumber: '7', eventName: 'REMOVE' };
    const batch = [
      insert('s', '1', 'b', 2),
      insert('s', '2', 'a', 3),
      remove,
      insert('s', '3', 'a', 1),
      insert('s', '4', 'b', 1),
      insert('s', '5', 'a', 1),
      insert('s', '6', 'a', 2),
    ];
    const ordered = resequence(batch);
    expect(
      ordered.map((r) => (r.newImage ? `${String(r.newImage.aggregateId)}${String(r.newImage.seq)}` : r.eventName)),
    ).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'REMOVE']);
  });

  test('When a record is in the format the DynamoDB Kinesis destination writes, then it decodes to the change with its new image, and a record that is not such JSON is dead-lettered with the reason', () => {
    const image = {
      aggregateId: 'a',
      seq: 1,
      eventId: 'e',
      eventType: 'OrderCreated',
      schemaVersion: 1,
      aggregateType: 'Order',
      occurredAt: '2026-11-23T10:00:00.000Z',
      payload: { orderId: 'a' },
      expiresAt: 1,
    };
    const data = {
      awsRegion: 'us-east-1',
      eventID: '6b2b6bd8-3f4a-4d3f-9c7f-1f9a2c6b1e55',
      eventName: 'INSERT',
      userIdentity: null,
      recordFormat: 'application/json',
      tableName: 'OrderOutbox',
      dynamodb: {
        ApproximateCreationDateTime: 1795430400000,
        Keys: marshall({ aggregateId: 'a', seq: 1 }),
        NewImage: marshall(image),
        SizeBytes: 312,
        ApproximateCreationDateTimePrecision: 'MILLISECOND',
      },
      eventSource: 'aws:dynamodb',
    };
    const record = toSourceRecord('shardId-000000000000', {
      SequenceNumber: '49650000000000000000000000000000000000000000000000000002',
      // As the GetRecords body carries it: base64.
      Data: Buffer.from(JSON.stringify(data)).toString('base64'),
    });
    expect(record).toEqual({
      shardId: 'shardId-000000000000',
      sequenceNumber: '49650000000000000000000000000000000000000000000000000002',
      eventName: 'INSERT',
      newImage: image,
    });
    expect(toOutgoing(record).kind).toBe('publish');

    const broken = toSourceRecord('shardId-000000000000', {
      SequenceNumber: '3',
      Data: Buffer.from('not json').toString('base64'),
    });
    const disposition = toOutgoing(broken);
    expect(disposition).toMatchObject({
      kind: 'deadLetter',
      letter: { errorCode: 'event.unreadable_record', item: 'not json', sequenceNumber: '3' },
    });
  });
});

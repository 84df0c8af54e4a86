import {
  DEAD_LETTER_REASONS,
  buildDeadLetterHeaders,
  deadLetterReasonFor,
  readDeadLetter,
  relayDeadLetterValue,
} from '../src';

describe('the dead-letter contract', () => {
  test('When errors are dead-lettered, then each code maps to its exact reason and any other code to unprocessable', () => {
    expect(deadLetterReasonFor('event.invalid_json')).toBe('invalid_json');
    expect(deadLetterReasonFor('event.gap')).toBe('gap');
    expect(deadLetterReasonFor('webhook.rejected')).toBe('webhook_rejected');
    expect(deadLetterReasonFor('webhook.exhausted')).toBe('webhook_exhausted');
    expect(deadLetterReasonFor('event.unreadable_record')).toBe('unreadable_record');
    expect(deadLetterReasonFor('internal')).toBe('unprocessable');
    for (const reason of Object.keys(DEAD_LETTER_REASONS)) expect(reason).toMatch(/^[a-z_]+$/);
  });

  test('When the relay and the notifier build dead-letter headers, then both follow one contract that reads back the same way', () => {
    const now = new Date('2026-01-02T03:04:05.000Z');
    const relay = buildDeadLetterHeaders({
      origin: 'relay',
      errorCode: 'event.invalid_envelope',
      errorMessage: 'x'.repeat(2000),
      source: { shardId: 'shardId-1', sequenceNumber: '42' },
      now,
    });
    expect(relay).toEqual({
      'dead-letter-reason': 'invalid_envelope',
      'error-code': 'event.invalid_envelope',
      '__connect.errors.exception.class.name': 'AppError',
      '__connect.errors.exception.message': 'x'.repeat(1000),
      'dead-letter-origin': 'relay',
      'first-failed-at': now.toISOString(),
      'dead-lettered-at': now.toISOString(),
      'source-shard': 'shardId-1',
      'source-sequence-number': '42',
    });
    expect(relayDeadLetterValue({ aggregateId: 'a' })).toBe('{"aggregateId":"a"}');
    const earlier = '2025-12-31T00:00:00.000Z';
    const notifier = buildDeadLetterHeaders({
      origin: 'notifier',
      errorCode: 'event.gap',
      errorMessage: 'waited',
      record: { topic: 't', partition: 2, offset: '7' },
      originalHeaders: { 'event-id': Buffer.from('e1'), 'first-failed-at': Buffer.from(earlier) },
      now,
    });
    expect(readDeadLetter(notifier)).toEqual({
      origin: 'notifier',
      reason: 'gap',
      errorCode: 'event.gap',
      errorMessage: 'waited',
      firstFailedAt: earlier,
      topic: 't',
      partition: '2',
      offset: '7',
      sourceShard: undefined,
      sourceSequenceNumber: undefined,
    });
    expect(readDeadLetter({ 'dead-letter-origin': 'someone' }).origin).toBe('unknown');
  });
});

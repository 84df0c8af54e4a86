import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { imageFromWire } from '../src/source/imageFromWire';

describe('stream images read from the GetRecords body', () => {
  test('When an image holds every attribute type, binaries nested in maps and lists among them, then it decodes to what unmarshall gives for the typed image', () => {
    const item = {
      aggregateId: 'order-1',
      seq: 3,
      big: 12345678901,
      ok: true,
      nothing: null,
      blob: new Uint8Array([0, 1, 254, 255]),
      blobs: new Set([new Uint8Array([1]), new Uint8Array([2, 3])]),
      names: new Set(['a', 'b']),
      counts: new Set([1, 2]),
      payload: { orderId: 'order-1', lines: [{ sku: 'x', raw: new Uint8Array([9, 8]) }, 'text', 7] },
    };
    const typed = marshall(item);
    // The wire form: JSON, with binaries as base64 (the SDK turns them into bytes).
    const wire = JSON.parse(
      JSON.stringify(typed, (_key, value: unknown) =>
        value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
      ),
    ) as Record<string, Record<string, unknown>>;
    expect(typeof wire.blob.B).toBe('string');
    expect(imageFromWire(wire)).toEqual(unmarshall(typed));
  });
});

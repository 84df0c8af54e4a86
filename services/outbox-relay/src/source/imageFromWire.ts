import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/**
 * An attribute value in its JSON wire form, as a GetRecords body carries it: the SDK's
 * {@link AttributeValue} except that binaries (`B`, `BS`) are base64 strings.
 */
export type WireAttributeValue = Record<string, unknown>;

/**
 * The item an image in wire form holds, as `unmarshall` gives it for the SDK's typed image:
 * binaries are decoded from base64 first (to `Uint8Array`), everything else is unchanged.
 */
export function imageFromWire(image: Record<string, WireAttributeValue>): Record<string, unknown> {
  for (const name in image) image[name] = decodeBinaries(image[name]);
  return unmarshall(image as unknown as Record<string, AttributeValue>);
}

/** `value` with its binaries (at any depth) decoded; other values are returned as they are. */
function decodeBinaries(value: WireAttributeValue): WireAttributeValue {
  if (typeof value.S === 'string' || typeof value.N === 'string') return value;
  if (typeof value.B === 'string') return { B: fromBase64(value.B) };
  if (Array.isArray(value.BS)) return { BS: value.BS.map((item) => fromBase64(String(item))) };
  if (value.M !== undefined && typeof value.M === 'object' && value.M !== null) {
    const map = value.M as Record<string, WireAttributeValue>;
    for (const name in map) map[name] = decodeBinaries(map[name]);
  } else if (Array.isArray(value.L)) {
    value.L = (value.L as WireAttributeValue[]).map(decodeBinaries);
  }
  return value;
}

function fromBase64(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

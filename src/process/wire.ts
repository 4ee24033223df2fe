// TEMPORARY: stands in for src/codec until it lands; same signatures as the codec's encodeValue/decodeValue.
import { deserialize, serialize } from 'node:v8';

export interface Wire {
  bytes: Uint8Array;
  sabs: SharedArrayBuffer[];
}

export function encodeValue(value: unknown): Wire {
  try {
    return { bytes: serialize(value), sabs: [] };
  } catch (cause) {
    throw new TypeError(`cannot clone the value: ${(cause as Error).message}`, { cause });
  }
}

export function decodeValue(wire: Wire): unknown {
  return deserialize(wire.bytes);
}

/**
 * Frame tags: word 1 of a ring frame (`ring/layout.ts`), saying how its payload encodes an item (`frames.ts`).
 *
 * They belong to the codec: the ring knows only `TAG_WRAP` (0, "the frame is padding up to the end of the ring,
 * the next one starts at offset 0"), which no tag here may take. Tags are part of the shared-memory format:
 * never renumber one, only add.
 */
/** A string of ASCII characters, one byte each. */
export const TAG_ASCII = 1;
/** String as UTF-8. */
export const TAG_UTF8 = 2;
/** A number, as a float64. */
export const TAG_NUMBER = 3;
/** A `Uint8Array`. */
export const TAG_UINT8 = 4;
/** A `Buffer`. */
export const TAG_BUFFER = 5;
/** Structured clone (`node:v8`), without procq handles. */
export const TAG_V8 = 6;
/** Structured clone with procq handles to revive. */
export const TAG_V8_HANDLES = 7;
export const TAG_UNDEFINED = 8;
export const TAG_NULL = 9;
export const TAG_TRUE = 10;
export const TAG_FALSE = 11;
/** Encoded by the queue's user codec. */
export const TAG_CUSTOM = 12;
/** procq's plain-object encoding (`plain.ts`). */
export const TAG_PLAIN = 13;
/** String as UTF-16. */
export const TAG_UTF16 = 14;

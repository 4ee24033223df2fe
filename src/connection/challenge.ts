/**
 * Python's connection authentication (`multiprocessing.connection.deliver_challenge` / `answer_challenge`, the
 * 3.12 protocol), byte for byte, so procq and Python programs authenticate each other:
 *
 * ```
 *  server (deliverChallenge)                          client (answerChallenge)
 *  '#CHALLENGE#' + '{sha256}' + 40 random bytes  -->
 *                                                <--  '{sha256}' + HMAC-SHA256(authkey, '{sha256}' + random)
 *  '#WELCOME#' (or '#FAILURE#', then an error)   -->
 * ```
 * The MAC covers the `{digest}` prefix, so a client cannot downgrade the digest. Legacy peers (Python <= 3.11) are
 * accepted: a 20-byte challenge with no prefix is answered with a raw 16-byte HMAC-MD5, and a raw 16-byte answer
 * is checked as HMAC-MD5. Every message is read with a 256-byte limit. A wrong key is an `AuthenticationError` on
 * both sides (the client learns it from `#FAILURE#`).
 */

import { crypto } from '../builtins.js';
import { AuthenticationError } from '../errors.js';

/** The part of a connection the handshake uses (a `SocketConnection`, a `Pipe`'s `Connection`, …). */
export interface ByteConnection {
  sendBytes(buffer: Uint8Array): void;
  recvBytes(maxlength?: number): Promise<Uint8Array>;
}

const MESSAGE_LENGTH = 40;
const CHALLENGE = Buffer.from('#CHALLENGE#');
const WELCOME = Buffer.from('#WELCOME#');
const FAILURE = Buffer.from('#FAILURE#');
const ALLOWED_DIGESTS = new Set(['md5', 'sha256', 'sha384', 'sha3_256', 'sha3_384']);
const MAX_DIGEST_LEN = 8;
const MD5ONLY_MESSAGE_LENGTH = 20;
const MD5_DIGEST_LEN = 16;

/** Python's digest names to Node's. */
const NODE_DIGEST: Record<string, string> = {
  md5: 'md5',
  sha256: 'sha256',
  sha384: 'sha384',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
};

/** The digest named by a `{digest}` prefix and the rest; `''` for a legacy (unprefixed MD5) message. */
function digestAndPayload(message: Buffer): [string, Buffer] {
  if (message.byteLength === MD5ONLY_MESSAGE_LENGTH || message.byteLength === MD5_DIGEST_LEN)
    return ['', message];
  if (message[0] === 0x7b /* { */) {
    const curly = message.indexOf(0x7d /* } */, 1);
    if (curly > 0 && curly <= MAX_DIGEST_LEN + 1) {
      const digest = message.subarray(1, curly).toString('latin1');
      if (ALLOWED_DIGESTS.has(digest)) return [digest, message.subarray(curly + 1)];
    }
  }
  throw new AuthenticationError('unsupported message length, missing digest prefix, or unsupported digest');
}

function hmac(authkey: Uint8Array, message: Uint8Array, digest: string): Buffer {
  return crypto().createHmac(NODE_DIGEST[digest]!, authkey).update(message).digest();
}

function createResponse(authkey: Uint8Array, message: Buffer): Buffer {
  const [digest] = digestAndPayload(message);
  if (digest === '') return hmac(authkey, message, 'md5');
  return Buffer.concat([Buffer.from(`{${digest}}`), hmac(authkey, message, digest)]);
}

function verifyChallenge(authkey: Uint8Array, message: Buffer, response: Buffer): void {
  const [named, mac] = digestAndPayload(response);
  const digest = named || 'md5';
  const expected = hmac(authkey, message, digest);
  if (expected.byteLength !== mac.byteLength) {
    throw new AuthenticationError(
      `expected '${digest}' of length ${expected.byteLength} got ${mac.byteLength}`,
    );
  }
  if (!crypto().timingSafeEqual(expected, mac)) throw new AuthenticationError('digest received was wrong');
}

export function checkAuthkey(authkey: unknown): Uint8Array | undefined {
  if (authkey === undefined || authkey === null) return undefined;
  if (typeof authkey === 'string') return Buffer.from(authkey, 'utf8');
  if (authkey instanceof Uint8Array) return authkey;
  throw new TypeError(`Expected \`authkey\` to be a Uint8Array or a string, got ${typeof authkey}`);
}

/** The server's half: proves the peer knows `authkey`. Python's `deliver_challenge`. */
export async function deliverChallenge(
  connection: ByteConnection,
  authkey: Uint8Array | string,
  digestName = 'sha256',
): Promise<void> {
  const key = checkAuthkey(authkey)!;
  if (!ALLOWED_DIGESTS.has(digestName))
    throw new RangeError(`Expected a digest among ${[...ALLOWED_DIGESTS]}, got '${digestName}'`);
  const message = Buffer.concat([Buffer.from(`{${digestName}}`), crypto().randomBytes(MESSAGE_LENGTH)]);
  connection.sendBytes(Buffer.concat([CHALLENGE, message]));
  const response = Buffer.from(await connection.recvBytes(256));
  try {
    verifyChallenge(key, message, response);
  } catch (err) {
    connection.sendBytes(FAILURE);
    throw err;
  }
  connection.sendBytes(WELCOME);
}

/** The client's half: proves to the peer that we know `authkey`. Python's `answer_challenge`. */
export async function answerChallenge(
  connection: ByteConnection,
  authkey: Uint8Array | string,
): Promise<void> {
  const key = checkAuthkey(authkey)!;
  let message = Buffer.from(await connection.recvBytes(256));
  if (!message.subarray(0, CHALLENGE.byteLength).equals(CHALLENGE)) {
    throw new AuthenticationError('Protocol error, expected challenge');
  }
  message = message.subarray(CHALLENGE.byteLength);
  if (message.byteLength < MD5ONLY_MESSAGE_LENGTH) {
    throw new AuthenticationError(`challenge too short: ${message.byteLength} bytes`);
  }
  connection.sendBytes(createResponse(key, message));
  const response = Buffer.from(await connection.recvBytes(256));
  if (!response.equals(WELCOME)) throw new AuthenticationError('digest sent was rejected');
}

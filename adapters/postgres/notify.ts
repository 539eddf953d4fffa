/**
 * The checks and the statement behind `db.notify()` (and the channel check of `db.listen()`).
 * @module
 */
import { describeValue } from '../../src/internal/index.js';
import type { QueryLike } from './query-input.js';

/** PostgreSQL's limit: the payload must be shorter than 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7999;
/** NAMEDATALEN - 1: LISTEN would silently truncate a longer channel while pg_notify rejects it. */
const MAX_CHANNEL_BYTES = 63;

/**
 * Validates a channel name for LISTEN and NOTIFY alike (`TypeError`/`RangeError`).
 *
 * @example
 * ```ts
 * checkChannel('orders'); // ok
 * checkChannel('');       // throws RangeError
 * ```
 */
export function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string') {
    throw new TypeError(`channel must be a string, got ${describeValue(channel)}`);
  }
  const bytes = Buffer.byteLength(channel);
  if (bytes === 0 || bytes > MAX_CHANNEL_BYTES || channel.includes('\0')) {
    throw new RangeError(
      `channel must be 1–${MAX_CHANNEL_BYTES} bytes without NUL characters, got ${describeValue(channel)}`,
    );
  }
}

/**
 * The statement that sends a notification: `select pg_notify($1, $2)` — channel and payload travel
 * as parameters, never as SQL text. Throws `TypeError`/`RangeError` synchronously for an invalid
 * channel or a payload of 8000 bytes or more.
 *
 * @example
 * ```ts
 * await db.query(notifyStatement('orders', JSON.stringify({ id: 42 })));
 * ```
 */
export function notifyStatement(channel: string, payload = ''): QueryLike {
  checkChannel(channel);
  if (typeof payload !== 'string') {
    throw new TypeError(`payload must be a string, got ${describeValue(payload)}`);
  }
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`payload must be shorter than 8000 bytes, got ${Buffer.byteLength(payload)} bytes`);
  }
  return { text: 'select pg_notify($1, $2)', values: [channel, payload] };
}

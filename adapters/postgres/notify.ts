/**
 * NOTIFY through any queryable (`pg.Client`, a transaction, `Database`).
 * @module
 */
import { describeValue } from '../../src/internal/index.js';

/**
 * Anything that runs a parameterised query: a `pg.Client`, `pg.Pool`, or an adapter wrapper.
 *
 * @example
 * ```ts
 * const target: NotifyTarget = { query: (text, values) => tx.query(text, values) };
 * ```
 */
export interface NotifyTarget {
  query(text: string, values: unknown[]): Promise<unknown>;
}

/** PostgreSQL's limit: the payload must be shorter than 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7999;
/** NAMEDATALEN - 1: LISTEN would silently truncate a longer channel while pg_notify rejects it. */
const MAX_CHANNEL_BYTES = 63;

/**
 * @internal Validates a channel name for LISTEN and NOTIFY alike (`TypeError`/`RangeError`).
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
 * Sends a notification with `select pg_notify($1, $2)`: channel and payload travel as parameters,
 * never as SQL text. Inside a transaction it is delivered on commit. The channel is the exact,
 * case-sensitive name `listen()` subscribed to. Throws `RangeError` synchronously for an invalid
 * channel or a payload of 8000 bytes or more.
 *
 * @example
 * ```ts
 * await notify(client, 'orders', JSON.stringify({ id: 42 }));
 * ```
 */
export function notify(target: NotifyTarget, channel: string, payload = ''): Promise<void> {
  if (target === null || typeof target !== 'object' || typeof target.query !== 'function') {
    throw new TypeError(`notify() needs something with a query() method, got ${describeValue(target)}`);
  }
  checkChannel(channel);
  if (typeof payload !== 'string') {
    throw new TypeError(`payload must be a string, got ${describeValue(payload)}`);
  }
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`payload must be shorter than 8000 bytes, got ${Buffer.byteLength(payload)} bytes`);
  }
  return target.query('select pg_notify($1, $2)', [channel, payload]).then(() => undefined);
}

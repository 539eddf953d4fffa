/**
 * Options of an {@link Outbox} and of the relays it starts, validated and defaulted in one place.
 * Both `outbox.ts` and `relay.ts` read them from here (neither imports the other's class for it).
 * @module
 */
import { checkDuration, checkInteger, describeValue, type Logger } from '../../src/internal/index.js';

/**
 * Options of `new Outbox(db, broker, options)`.
 *
 * @example
 * ```ts
 * new Outbox(db, broker, { table: 'app.outbox', batchSize: 256, logger: pino() });
 * ```
 */
export interface OutboxOptions {
  /** Table holding unpublished messages; may be schema-qualified. @default 'connkit_outbox' */
  table?: string;
  /** Rows the relay takes (and locks) per round. @default 100 */
  batchSize?: number;
  /** Milliseconds between polls when no NOTIFY arrives (the fallback). @default 1000 */
  pollInterval?: number;
  /** Milliseconds one publish may wait for its confirm before the row is retried. @default 10_000 */
  publishTimeout?: number;
  /**
   * Where a relay reports what fails in the background (a batch that could not be published, a lost
   * NOTIFY subscription): `logger.warn({ err, table, … }, message)`. Every failure is also in
   * `relay.stats().lastError`. @default undefined (stats only)
   */
  logger?: Logger | undefined;
}

/**
 * {@link OutboxOptions} with defaults applied, shared by the outbox and its relays.
 *
 * @example
 * ```ts
 * const settings: OutboxSettings = resolveOutboxOptions({ batchSize: 50 });
 * ```
 */
export interface OutboxSettings {
  table: string;
  batchSize: number;
  pollInterval: number;
  publishTimeout: number;
  logger: Logger | undefined;
}

/**
 * Validates `options` (throwing `TypeError`/`RangeError` quoting the bad value) and applies the defaults.
 *
 * @example
 * ```ts
 * resolveOutboxOptions({ batchSize: 0 }); // RangeError: batchSize must be an integer in [1, 10000], got 0
 * ```
 */
export function resolveOutboxOptions(options: OutboxOptions): OutboxSettings {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  }
  const table = options.table ?? 'connkit_outbox';
  if (typeof table !== 'string' || table === '') {
    throw new TypeError(`table must be a non-empty string, got ${describeValue(table)}`);
  }
  const logger = options.logger;
  if (logger !== undefined && (logger === null || typeof logger.warn !== 'function')) {
    throw new TypeError(`logger must have a warn(details, message) method, got ${describeValue(logger)}`);
  }
  return {
    table,
    batchSize: checkInteger(options.batchSize, 'batchSize', 100, 1, 10_000),
    pollInterval: checkDuration(options.pollInterval, 'pollInterval', 1000),
    publishTimeout: checkDuration(options.publishTimeout, 'publishTimeout', 10_000),
    logger,
  };
}

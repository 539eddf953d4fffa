/**
 * Options of `broker.consume()` / `broker.serve()`, the handler's type and the consumer's counters;
 * validated in one place ({@link resolveConsumeOptions}).
 * @module
 */
import { checkInteger, describeValue } from '../../src/internal/index.js';
import type { Message } from './message.js';
import { checkStreamOffset, type StreamOffset } from './stream-offset.js';
import { MAX_TTL } from './wire.js';

/**
 * Options of `broker.consume()`. What becomes of each delivery:
 *
 * | the handler…                                         | the message is…                                                  |
 * | ---------------------------------------------------- | ---------------------------------------------------------------- |
 * | resolves                                             | acked                                                            |
 * | throws, attempts left (`retryIf` absent or true)     | retried: through the delay queue after `delay`, `attempt` + 1    |
 * | throws, `retry.retryIf(err, msg)` false              | dead-lettered at once                                            |
 * | throws, attempts spent (no `retry`: after the first) | dead-lettered                                                    |
 * | throws `NonRetryableError` (or a subclass)           | dead-lettered at once, whatever `retryIf` says                   |
 * | throws `RequeueError`                                | requeued at once (`nack`): redelivered, `attempt` not counted    |
 * | is not called: the body does not decode              | dead-lettered at once (`x-connkit-error-name: SyntaxError`)      |
 * | (inbox) is not called: a duplicate                   | acked                                                            |
 * | (inbox) is not called: no message id                 | dead-lettered at once (`MissingMessageIdError` is non-retryable) |
 *
 * Dead-lettered: published to `deadLetter` with the error in headers (`x-connkit-error`,
 * `x-connkit-error-name`, `x-connkit-queue`), else rejected to the queue's own dead-letter exchange
 * (dropped by the broker when the queue has none). A retry or dead-letter publish that fails is
 * reported and the message is requeued. A `retryIf` that throws is reported and the message retried.
 * Buffered deliveries of a closing consumer are requeued. `serve()` handlers: a throw is replied as
 * an error and the request acked.
 *
 * @example
 * ```ts
 * broker.consume('jobs', handle, {
 *   concurrency: 4,
 *   prefetch: 16,
 *   retry: { attempts: 5, delay: [1000, 5000], retryIf: (err) => !(err instanceof ValidationError) },
 *   deadLetter: 'jobs.dead',
 * });
 * ```
 */
export interface ConsumeOptions {
  /** Handlers running at once, at most. @default 1 */
  concurrency?: number;
  /** Unacked deliveries the broker sends ahead (basic.qos). @default `concurrency` */
  prefetch?: number;
  /**
   * Retries through delay queues. `attempts` counts every try, the first included; `delay` is in
   * whole milliseconds (at most 2^32-1, RabbitMQ's longest TTL), per attempt when an array (the last
   * value repeats). `retryIf` decides per failure: false dead-letters at once (default: every
   * failure but a `NonRetryableError` is retried).
   */
  retry?: RetryOptions;
  /**
   * Queue that takes messages whose attempts are spent (the error in headers); created when
   * missing — a quorum queue when the consumed queue is a quorum queue or a stream.
   * @default the queue's own DLX (reject)
   */
  deadLetter?: string;
  /**
   * Reads a stream queue from this offset (see {@link StreamOffset}); the handler gets each
   * message's `msg.offset` to store. After a lost channel or connection the consumer goes on
   * from the first message its handler had not finished. Streams take no `retry` (they keep every
   * message: re-read from a stored offset instead), need a `prefetch` ≥ 1 and are never rejected: a
   * handler's failure goes to `deadLetter` if given, else it is reported and the offset moves on.
   */
  offset?: StreamOffset;
}

/**
 * Retries of `broker.consume()` (see {@link ConsumeOptions}).
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { attempts: 5, delay: [100, 1000, 10_000], retryIf: (err) => isTransient(err) };
 * ```
 */
export interface RetryOptions {
  /** Tries in all, the first included (1: no retry). */
  attempts: number;
  /** Milliseconds before each retry (the last value repeats). */
  delay: number | number[];
  /** Whether a failure is worth retrying; false dead-letters at once. Not asked for a `NonRetryableError`. */
  retryIf?: RetryPredicate | undefined;
}

/**
 * Decides whether a failed delivery is retried (see {@link RetryOptions}).
 *
 * @example
 * ```ts
 * const retryIf: RetryPredicate = (err, msg) => msg.attempt < 3 || isTransient(err);
 * ```
 */
export type RetryPredicate = (err: unknown, msg: Message) => boolean;

/**
 * A message handler: resolve → ack, throw → retry / dead-letter (the table in {@link ConsumeOptions}). `signal` aborts on a forced close.
 *
 * @example
 * ```ts
 * const handler: MessageHandler<{ id: number }> = async (msg, signal) => save(msg.body.id, { signal });
 * ```
 */
export type MessageHandler<T = unknown, R = unknown> = (msg: Message<T>, signal: AbortSignal) => Promise<R>;

/**
 * Counters of a consumer.
 *
 * @example
 * ```ts
 * const { active, acked, retried, deadLettered } = consumer.stats();
 * ```
 */
export interface ConsumerStats {
  queue: string;
  consuming: boolean;
  active: number;
  buffered: number;
  acked: number;
  retried: number;
  deadLettered: number;
  rejected: number;
  /** Deliveries put back on the queue (a `RequeueError`, a retry that could not be published). */
  requeued: number;
  restarts: number;
}

/**
 * {@link ConsumeOptions} validated, with defaults applied.
 *
 * @example
 * ```ts
 * const settings: ConsumeSettings = resolveConsumeOptions('jobs', handler, { concurrency: 2 });
 * ```
 */
export interface ConsumeSettings {
  concurrency: number;
  prefetch: number;
  /** Tries in all (1: no retry). */
  attempts: number;
  /** Delay before retry n (index n-1, the last repeating); empty without retry. */
  delays: number[];
  deadLetter: string | undefined;
  retryIf: RetryPredicate | undefined;
  /** Set for a stream consumer. */
  offset: StreamOffset | undefined;
}

function checkDelay(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeValue(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_TTL) {
    throw new RangeError(
      `${name} must be whole milliseconds in [0, ${MAX_TTL}], got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * Validates the arguments of `consume()`/`serve()` (throwing `TypeError`/`RangeError` quoting the
 * bad value) and applies the defaults.
 *
 * @example
 * ```ts
 * resolveConsumeOptions('jobs', handler, { concurrency: 0 }); // RangeError: concurrency must be …, got 0
 * ```
 */
export function resolveConsumeOptions(queue: unknown, handler: unknown, opts: unknown): ConsumeSettings {
  if (typeof queue !== 'string' || queue === '')
    throw new TypeError(`queue must be a non-empty string, got ${describeValue(queue)}`);
  if (typeof handler !== 'function')
    throw new TypeError(`handler must be a function, got ${describeValue(handler)}`);
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError(`options must be an object, got ${describeValue(opts)}`);
  }
  const o = opts as ConsumeOptions;
  const concurrency = checkInteger(o.concurrency, 'concurrency', 1, 1);
  const settings: ConsumeSettings = {
    concurrency,
    prefetch: checkInteger(o.prefetch, 'prefetch', concurrency, 0, 65_535),
    attempts: 1,
    delays: [],
    deadLetter: undefined,
    retryIf: undefined,
    offset: o.offset === undefined ? undefined : checkStreamOffset(o.offset),
  };
  if (o.retry !== undefined) {
    if (o.retry === null || typeof o.retry !== 'object') {
      throw new TypeError(`retry must be { attempts, delay }, got ${describeValue(o.retry)}`);
    }
    settings.attempts = checkInteger(o.retry.attempts, 'retry.attempts', 1, 1);
    const delays = Array.isArray(o.retry.delay) ? o.retry.delay : [o.retry.delay];
    if (delays.length === 0) throw new RangeError('retry.delay must not be an empty array');
    settings.delays = delays.map((d, i) =>
      checkDelay(d, Array.isArray(o.retry?.delay) ? `retry.delay[${i}]` : 'retry.delay'),
    );
    const retryIf: unknown = o.retry.retryIf;
    if (retryIf !== undefined && typeof retryIf !== 'function') {
      throw new TypeError(`retry.retryIf must be a function, got ${describeValue(retryIf)}`);
    }
    settings.retryIf = retryIf as RetryPredicate | undefined;
  }
  if (o.deadLetter !== undefined) {
    if (typeof o.deadLetter !== 'string' || o.deadLetter === '') {
      throw new TypeError(`deadLetter must be a queue name, got ${describeValue(o.deadLetter)}`);
    }
    settings.deadLetter = o.deadLetter;
  }
  if (settings.offset !== undefined) {
    if (settings.prefetch === 0) {
      throw new RangeError('prefetch must be ≥ 1 on a stream (the broker requires one), got 0');
    }
    if (settings.attempts > 1) {
      throw new TypeError(
        `retry is not supported on a stream (it keeps every message: re-read from a stored offset instead), got ${describeValue(o.retry)}`,
      );
    }
  }
  return settings;
}

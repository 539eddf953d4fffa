/**
 * Internal: connkit's `diagnostics_channel` TracingChannels — the way APM agents and hand-written
 * probes see connkit's operations without OpenTelemetry and without patching anything.
 *
 * Each channel publishes Node's TracingChannel events (`start`, `end`, `asyncStart`, `asyncEnd`,
 * `error`) with one context object per operation, the same object in every event of that operation;
 * `start.bindStore()` works (the operation runs inside `start.runStores`). Context objects carry names,
 * counts and outcomes — never a bound value, a row or a message body. When nobody subscribes the
 * operation runs as if the channel did not exist: callers check `hasSubscribers` before they build a
 * context object, and {@link traceCall} checks again.
 *
 * | channel                  | operation                                   | context                      |
 * | ------------------------ | ------------------------------------------- | ---------------------------- |
 * | `connkit:pool:acquire`   | `Pool.acquire()`/`use()` (the borrow only), `tryAcquire()` | {@link PoolAcquireContext}   |
 * | `connkit:postgres:query` | one statement on the server                 | {@link PostgresQueryContext} |
 * | `connkit:amqp:publish`   | one publish, until the broker's confirm     | {@link AmqpPublishContext}   |
 * | `connkit:amqp:process`   | one delivery through a consume handler      | {@link AmqpProcessContext}   |
 * @module
 */
import diagnosticsChannel, { type TracingChannel } from 'node:diagnostics_channel';

/**
 * Fields every context gets once the operation ended (set before `asyncEnd`, or before `end` for a
 * synchronous call).
 *
 * @example
 * ```ts
 * if (ctx.error !== undefined) console.log('failed', ctx.error);
 * ```
 */
export interface TracedOperation {
  /** The error the operation threw or rejected with. */
  error?: unknown;
}

/**
 * Context of `connkit:pool:acquire`: one borrow from a core `Pool` (the Postgres connections, the
 * AMQP channels, your own pools).
 *
 * @example
 * ```ts
 * { pool: 'postgres', operation: 'acquire', timeout: 10000, max: 10, borrowed: 10, waiting: 3, result: { lent: true } }
 * ```
 */
export interface PoolAcquireContext extends TracedOperation {
  /** The pool's `name` option. */
  readonly pool: string;
  readonly operation: 'acquire' | 'use' | 'tryAcquire';
  /** The borrow's timeout in ms (`Infinity`: none; `tryAcquire`: 0). */
  readonly timeout: number;
  readonly max: number;
  /** Leases out, and callers queued, when the borrow started. */
  readonly borrowed: number;
  readonly waiting: number;
  /** Once it ended: whether a resource was lent (`tryAcquire` may lend none). */
  result?: { lent: boolean };
}

/**
 * Context of `connkit:postgres:query`: one statement. `text` is the parameterised text as given; the
 * values are never included (`valueCount` says how many).
 *
 * @example
 * ```ts
 * { text: 'select * from orders where id = $1', valueCount: 1, database: 'shop', serverAddress: 'db1', serverPort: 5432, pipelined: false, transaction: false, result: { command: 'SELECT', rowCount: 1 } }
 * ```
 */
export interface PostgresQueryContext extends TracedOperation {
  readonly text: string;
  readonly valueCount: number;
  readonly database: string | undefined;
  readonly serverAddress: string | undefined;
  readonly serverPort: number | undefined;
  /** Sent on a shared pipelined connection. */
  readonly pipelined: boolean;
  /** Inside `db.transaction()` or `withClient()`. */
  readonly transaction: boolean;
  /** Once it succeeded: the command tag and row count, not the rows. */
  result?: { command: string; rowCount: number | null };
}

/**
 * Context of `connkit:amqp:publish`: one message, from `publish()` to the broker's confirm (ack,
 * nack, return, timeout or close). No body: its size only.
 *
 * @example
 * ```ts
 * { exchange: 'orders', routingKey: 'order.created', messageId: '5f0c…', bodySize: 112, persistent: true, mandatory: true }
 * ```
 */
export interface AmqpPublishContext extends TracedOperation {
  readonly exchange: string;
  readonly routingKey: string;
  readonly messageId: string;
  readonly bodySize: number;
  readonly persistent: boolean;
  readonly mandatory: boolean;
}

/**
 * Context of `connkit:amqp:process`: one delivery through a handler (`consume`, `serve`,
 * `inbox.handler`), until it is settled. No body: its size only.
 *
 * @example
 * ```ts
 * { queue: 'orders', exchange: 'orders', routingKey: 'order.created', messageId: '5f0c…', bodySize: 112, attempt: 1, redelivered: false, outcome: 'ack' }
 * ```
 */
export interface AmqpProcessContext extends TracedOperation {
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly messageId: string | undefined;
  readonly bodySize: number;
  readonly attempt: number;
  readonly redelivered: boolean;
  /** Once settled: what became of the message. */
  outcome?: 'ack' | 'retry' | 'dead-letter' | 'reject' | 'requeue';
}

/**
 * `connkit:pool:acquire`.
 *
 * @example
 * ```ts
 * if (poolAcquireChannel.hasSubscribers) return traceCall(poolAcquireChannel, ctx, () => borrow());
 * ```
 */
export const poolAcquireChannel: TracingChannel<unknown, PoolAcquireContext> =
  diagnosticsChannel.tracingChannel('connkit:pool:acquire');

/**
 * `connkit:postgres:query`.
 *
 * @example
 * ```ts
 * if (postgresQueryChannel.hasSubscribers) return traceCall(postgresQueryChannel, ctx, run, summarize);
 * ```
 */
export const postgresQueryChannel: TracingChannel<unknown, PostgresQueryContext> =
  diagnosticsChannel.tracingChannel('connkit:postgres:query');

/**
 * `connkit:amqp:publish`.
 *
 * @example
 * ```ts
 * if (amqpPublishChannel.hasSubscribers) return traceCall(amqpPublishChannel, ctx, () => queue.add(entry));
 * ```
 */
export const amqpPublishChannel: TracingChannel<unknown, AmqpPublishContext> =
  diagnosticsChannel.tracingChannel('connkit:amqp:publish');

/**
 * `connkit:amqp:process`.
 *
 * @example
 * ```ts
 * if (amqpProcessChannel.hasSubscribers) await traceCall(amqpProcessChannel, ctx, () => this.#handle(d));
 * ```
 */
export const amqpProcessChannel: TracingChannel<unknown, AmqpProcessContext> =
  diagnosticsChannel.tracingChannel('connkit:amqp:process');

/**
 * Runs `fn` as one traced operation on `channel` — Node's `tracePromise` sequence (`start` with the
 * stores bound, `end` after the synchronous part, then `asyncStart`/`asyncEnd`, `error` on failure)
 * — except that `context.result` is what `summarize` writes, never `fn`'s raw value (rows, leases).
 * Without subscribers it is `fn()`.
 *
 * @example
 * ```ts
 * const ctx = { text, valueCount, database, serverAddress, serverPort, pipelined: true, transaction: false };
 * return traceCall(postgresQueryChannel, ctx, () => conn.run(input, limits),
 *   (res, c) => (c.result = { command: res.command, rowCount: res.rowCount }));
 * ```
 */
export function traceCall<C extends TracedOperation, R>(
  channel: TracingChannel<unknown, C>,
  context: C,
  fn: () => Promise<R>,
  summarize?: (result: R, context: C) => void,
): Promise<R> {
  if (!channel.hasSubscribers) return fn();
  const { start, end, asyncStart, asyncEnd, error } = channel;
  return start.runStores(context, () => {
    try {
      return fn().then(
        (result) => {
          summarize?.(result, context);
          asyncStart.publish(context);
          asyncEnd.publish(context);
          return result;
        },
        (err: unknown) => {
          context.error = err;
          error.publish(context);
          asyncStart.publish(context);
          asyncEnd.publish(context);
          throw err;
        },
      );
    } catch (err) {
      context.error = err;
      error.publish(context);
      throw err;
    } finally {
      end.publish(context);
    }
  });
}

/**
 * The synchronous counterpart of {@link traceCall} (Node's `traceSync` sequence: `start`, `end`,
 * `error` on a throw), for calls such as `tryAcquire()`.
 *
 * @example
 * ```ts
 * return traceSyncCall(poolAcquireChannel, ctx, () => this.#lendNow(), (lease, c) => (c.result = { lent: lease !== undefined }));
 * ```
 */
export function traceSyncCall<C extends TracedOperation, R>(
  channel: TracingChannel<unknown, C>,
  context: C,
  fn: () => R,
  summarize?: (result: R, context: C) => void,
): R {
  if (!channel.hasSubscribers) return fn();
  const { start, end, error } = channel;
  return start.runStores(context, () => {
    try {
      const result = fn();
      summarize?.(result, context);
      return result;
    } catch (err) {
      context.error = err;
      error.publish(context);
      throw err;
    } finally {
      end.publish(context);
    }
  });
}

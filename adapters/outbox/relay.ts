/**
 * The outbox relay: publishes committed outbox rows with confirms, in id order, and deletes them.
 * @module
 */
import {
  Backoff,
  checkSignal,
  describeValue,
  Event,
  reportBackground,
  rootContext,
  sleep,
  TimeoutError,
  toError,
  unwatchAbort,
  watchAbort,
  withContext,
} from '../../src/internal/index.js';
import type { Broker } from '../amqp/broker.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import type { OutboxSettings } from './outbox-settings.js';
import { startBatch, type Batch, type BatchRound } from './relay-batch.js';
import { RelayMetrics } from './relay-metrics.js';
import { tableId } from './tables.js';

/**
 * Options of `Outbox.start()`.
 *
 * @example
 * ```ts
 * const relay = outbox.start({ signal: shutdown.signal } satisfies RelayStartOptions);
 * ```
 */
export interface RelayStartOptions {
  /** Aborting it stops the relay, as `stop()` does. */
  signal?: AbortSignal | undefined;
}

/**
 * Most relay transactions open at once (each holds a pooled connection and its batch's row locks):
 * enough that reading and deleting overlap with publishing. Fewer when the pool is small (one
 * connection is always left to the application) or the batches are big (see MAX_ROWS_IN_FLIGHT).
 */
const MAX_OPEN_BATCHES = 3;
/**
 * Rows the overlapping batches may have in flight together, well under the broker's default
 * `maxPending` (10 000), so the relay never fills the publish buffer the application shares.
 */
const MAX_ROWS_IN_FLIGHT = 2_048;

/**
 * Counters and backlog of a relay (`pending` and `lagMs` are read from the table).
 *
 * @example
 * ```ts
 * const { pending, lastError }: RelayStats = await relay.stats();
 * ```
 */
export interface RelayStats {
  /** Rows still waiting in the outbox (all relays). */
  pending: number;
  /** Age in milliseconds of the oldest waiting row (0 when none wait). */
  lagMs: number;
  /** Messages this relay published and deleted. */
  published: number;
  /** Publish attempts that failed (nack, unroutable, timeout, broker down); those rows are retried. */
  failed: number;
  /** Rounds that picked at least one row. */
  batches: number;
  running: boolean;
  /** The last failure (a publish, a batch, the NOTIFY subscription), as it was thrown. */
  lastError: Error | undefined;
}

/**
 * A running relay. Wakes on NOTIFY from committed `enqueue` calls and polls every `pollInterval`
 * as a fallback; backs off while publishing fails; `stop()` finishes the batches in hand. Failures
 * go to the Outbox's `logger` (`warn`) and to `stats().lastError`.
 *
 * @example
 * ```ts
 * const relay = outbox.start();
 * console.log(await relay.stats()); // { pending, lagMs, published, failed, … }
 * await relay.stop();
 * ```
 */
export class Relay {
  readonly #db: Database;
  readonly #settings: OutboxSettings;
  readonly #round: BatchRound;
  readonly #wake = new Event();
  readonly #stopping = new AbortController();
  readonly #done: Promise<void>;
  #published = 0;
  #failed = 0;
  #batches = 0;
  #lastError: Error | undefined = undefined;
  #running = true;

  /** @internal Created by `Outbox.start()`. */
  constructor(db: Database, broker: Broker, settings: OutboxSettings, options: RelayStartOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeValue(options)}`);
    }
    const signal = checkSignal(options.signal);
    this.#db = db;
    this.#settings = settings;
    const metrics = RelayMetrics.open(settings.table, (timeout) => this.#count(timeout));
    this.#round = {
      db,
      broker,
      settings,
      metrics,
      picked: () => void this.#batches++,
      outcome: (sent, failed, error) => {
        this.#published += sent;
        this.#failed += failed;
        if (error !== undefined)
          this.#report('connkit/outbox: relay could not publish, retrying', error, { failed });
      },
    };
    const watcher = { giveUp: () => this.#stopping.abort() };
    if (signal?.aborted) this.#stopping.abort();
    else if (signal !== undefined) watchAbort(signal, watcher);
    // Background work: it must not run in (and parent every later span on) the context of whoever
    // started the relay. Each traced row gets its own context from its stored headers.
    this.#done = withContext(rootContext(), () => Promise.all([this.#listen(), this.#loop()]))
      .then(() => undefined)
      .finally(() => {
        this.#running = false;
        metrics?.close();
        if (signal !== undefined) unwatchAbort(signal, watcher);
      });
    // stop() hands this promise to its caller; a relay nobody stops must not raise an unhandled rejection.
    this.#done.catch(() => undefined);
  }

  /**
   * Stops the relay after the batches in hand (confirmed and deleted, or rolled back) and resolves
   * when it has stopped. Idempotent.
   *
   * @example
   * ```ts
   * await relay.stop();
   * ```
   */
  stop(): Promise<void> {
    this.#stopping.abort();
    return this.#done;
  }

  /** Same as {@link stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Counters of this relay, plus the backlog read from the outbox table.
   *
   * @example
   * ```ts
   * const { pending, lagMs } = await relay.stats();
   * ```
   */
  async stats(): Promise<RelayStats> {
    const row = await this.#db.one<{ pending: number; lag_ms: number }>(sql`
      select count(*)::int as pending,
             coalesce(extract(epoch from clock_timestamp() - min(created_at)) * 1000, 0)::float8 as lag_ms
      from ${tableId(this.#settings.table)}`);
    return {
      pending: row.pending,
      lagMs: row.lag_ms,
      published: this.#published,
      failed: this.#failed,
      batches: this.#batches,
      running: this.#running,
      lastError: this.#lastError,
    };
  }

  /** Rows in the table (all relays'), for the `connkit.outbox.pending` gauge. */
  async #count(timeout: number): Promise<number> {
    const row = await this.#db.one<{ n: number }>(
      sql`select count(*)::int as n from ${tableId(this.#settings.table)}`,
      undefined,
      { timeout },
    );
    return row.n;
  }

  #report(message: string, error: Error, details?: Record<string, unknown>): void {
    this.#lastError = error;
    reportBackground({ logger: this.#settings.logger }, message, error, {
      table: this.#settings.table,
      ...details,
    });
  }

  /** Turns NOTIFYs into wake-ups; the subscription reconnects by itself after connection loss. */
  async #listen(): Promise<void> {
    const signal = this.#stopping.signal;
    try {
      // NOTIFYs sent while the listener reconnects are lost: look at the table once it is back.
      const subscription = await this.#db.listen(this.#settings.table, {
        signal,
        onReconnect: () => this.#wake.set(),
      });
      try {
        for await (const _ of subscription) this.#wake.set();
      } finally {
        await subscription.close();
      }
    } catch (err) {
      // Without NOTIFY the relay still works: it polls. Stopping ends the subscription on purpose.
      if (!signal.aborted) {
        this.#report('connkit/outbox: relay listen failed, polling only', toError(err));
      }
    }
  }

  /**
   * Batches overlap: as soon as a full batch's publishes are on the channel, the next batch is read
   * (SKIP LOCKED passes over the rows still locked) while the earlier ones' confirms come back, so
   * the broker is not idle during the SELECT, DELETE and COMMIT. Publishes are issued in id order (a
   * batch is read only after the previous one has issued all of its). A failed publish stops the
   * overlap at once: no batch is read until every open one is over, then the relay backs off — so a
   * row that must be retried is overtaken at most by the batch already read when it failed.
   */
  async #loop(): Promise<void> {
    const signal = this.#stopping.signal;
    const { batchSize, pollInterval } = this.#settings;
    const maxOpen = Math.max(
      1,
      Math.min(MAX_OPEN_BATCHES, this.#db.stats().pool.max - 1, Math.floor(MAX_ROWS_IN_FLIGHT / batchSize)),
    );
    const backoff = new Backoff({ initialDelay: 100, maxDelay: 5000 });
    /** Full batches still awaiting their confirms, oldest first. */
    const open: Batch[] = [];
    const settleOpen = async (keep: number): Promise<number> => {
      let failed = 0;
      while (open.length > keep) failed += await open.shift()!.done;
      return failed;
    };
    try {
      while (!signal.aborted) {
        // Clear before reading: a NOTIFY that lands while the batch runs keeps the event set.
        this.#wake.clear();
        const batch = startBatch(this.#round);
        const picked = await batch.issued;
        const failedBefore = await settleOpen(maxOpen - 2);
        const overlap =
          maxOpen > 1 &&
          picked === batchSize &&
          failedBefore === 0 &&
          !batch.failing &&
          !open.some((b) => b.failing) &&
          !signal.aborted;
        if (overlap) {
          open.push(batch);
          continue;
        }
        const failedNow = failedBefore + (await batch.done) + (await settleOpen(0));
        if (failedNow > 0) {
          await sleep(backoff.next(), { signal }).catch(() => undefined);
          continue;
        }
        backoff.reset();
        if (picked === batchSize) continue;
        await this.#wake.wait({ signal, timeout: pollInterval }).catch((err: unknown) => {
          if (!(err instanceof TimeoutError) && !signal.aborted) throw err;
        });
      }
    } finally {
      // Stopping: the batches in hand are finished (confirmed and deleted, or rolled back), not dropped.
      await settleOpen(0);
    }
  }
}

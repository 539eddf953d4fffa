/**
 * {@link InboxPruner}: the inbox's retention job. It deletes the rows applied longer than `keep`
 * ago in small batches — one short statement each, walking the `applied_at` index, skipping rows
 * another pruner holds — so no lock is held for long and several processes may prune at once.
 * @module
 */
import {
  Backoff,
  checkDuration,
  checkInteger,
  checkSignal,
  ClosedError,
  describeValue,
  type Logger,
  reportBackground,
  startTimer,
  toError,
  unwatchAbort,
  watchAbort,
} from '../../src/internal/index.js';
import type { Database } from '../postgres/database.js';
import { sql } from '../postgres/sql.js';
import { tableId } from './tables.js';

/**
 * Options of `inbox.startPruning()`.
 *
 * @example
 * ```ts
 * const options: PruneOptions = { signal: shutdown.signal, interval: 60_000, batchSize: 500 };
 * ```
 */
export interface PruneOptions {
  /** Aborting it stops the pruner, as `stop()` does. */
  signal?: AbortSignal | undefined;
  /** Milliseconds between passes (a pass runs batches until one comes back short). @default 60_000 */
  interval?: number | undefined;
  /** Rows one statement deletes, at most. @default 1000 */
  batchSize?: number | undefined;
}

/**
 * Counters of a pruner.
 *
 * @example
 * ```ts
 * const { pruned, rounds, lastError }: InboxPrunerStats = pruner.stats();
 * ```
 */
export interface InboxPrunerStats {
  /** Rows this pruner deleted. */
  pruned: number;
  /** Delete statements it ran (each takes at most `batchSize` rows). */
  rounds: number;
  running: boolean;
  /** The last failure, as it was thrown (failures are retried with backoff). */
  lastError: Error | undefined;
}

/**
 * What a pruner works on: its inbox's table, retention and logger.
 *
 * @example
 * ```ts
 * const target: PruneTarget = { db, table: 'connkit_inbox', keep: 7 * 86_400_000, logger: undefined };
 * ```
 */
export interface PruneTarget {
  db: Database;
  table: string;
  /** Milliseconds a row is kept (any duration; `Infinity`: forever). */
  keep: number;
  logger: Logger | undefined;
}

/**
 * The longest `keep` sent to the server, in ms (~3,000 years): any row is younger, and a cutoff
 * further back would fall outside PostgreSQL's timestamp range (an error rather than "nothing").
 */
const MAX_KEEP = 1e14;

/**
 * A running retention job, started by `inbox.startPruning()`. Failures are reported to the inbox's
 * `logger` (`warn`) and `stats().lastError`, and retried with backoff; it stops on `stop()`, on its
 * signal, or once its Database is closed. Its timer never keeps the process alive.
 *
 * @example
 * ```ts
 * await using pruner = inbox.startPruning({ signal: shutdown.signal });
 * console.log(pruner.stats()); // { pruned, rounds, running, lastError }
 * ```
 */
export class InboxPruner {
  readonly #target: PruneTarget;
  readonly #interval: number;
  readonly #batchSize: number;
  readonly #stopping = new AbortController();
  readonly #done: Promise<void>;
  #pruned = 0;
  #rounds = 0;
  #running: boolean;
  #lastError: Error | undefined = undefined;

  /** @internal Created by `inbox.startPruning()`. */
  constructor(target: PruneTarget, options: PruneOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, got ${describeValue(options)}`);
    }
    const signal = checkSignal(options.signal);
    this.#interval = checkDuration(options.interval, 'interval', 60_000);
    this.#batchSize = checkInteger(options.batchSize, 'batchSize', 1000, 1, 100_000);
    this.#target = target;
    // keep: Infinity — nothing is ever old enough: no job at all.
    this.#running = target.keep !== Infinity;
    const watcher = { giveUp: () => this.#stopping.abort() };
    if (signal?.aborted) this.#stopping.abort();
    else if (signal !== undefined) watchAbort(signal, watcher);
    this.#done = (this.#running ? this.#loop() : Promise.resolve()).finally(() => {
      this.#running = false;
      if (signal !== undefined) unwatchAbort(signal, watcher);
    });
  }

  /**
   * Stops after the statement in hand and resolves once stopped. Idempotent.
   *
   * @example
   * ```ts
   * await pruner.stop();
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
   * Counters of this pruner.
   *
   * @example
   * ```ts
   * pruner.stats(); // { pruned: 1200, rounds: 3, running: true, lastError: undefined }
   * ```
   */
  stats(): InboxPrunerStats {
    return { pruned: this.#pruned, rounds: this.#rounds, running: this.#running, lastError: this.#lastError };
  }

  async #loop(): Promise<void> {
    const backoff = new Backoff({ initialDelay: 500, maxDelay: 60_000, jitter: 'equal' });
    while (!this.#stopping.signal.aborted) {
      let deleted: number;
      try {
        deleted = await this.#round();
      } catch (err) {
        if (err instanceof ClosedError) return; // the Database was closed: nothing left to prune with
        this.#lastError = toError(err);
        reportBackground(
          { logger: this.#target.logger },
          'connkit/outbox: inbox pruning failed, retrying',
          err,
          { table: this.#target.table },
        );
        await this.#pause(backoff.next());
        continue;
      }
      backoff.reset();
      // A full batch means more may be due: go on at once; a short one ends the pass.
      if (deleted < this.#batchSize) await this.#pause(this.#interval);
    }
  }

  /** One batch: the oldest due rows (by the `applied_at` index), each statement its own transaction. */
  async #round(): Promise<number> {
    const t = tableId(this.#target.table);
    const keep = Math.min(this.#target.keep, MAX_KEEP);
    // now(), not clock_timestamp(): a stable cutoff is an index condition, so a short batch does not
    // scan the rows that are not due.
    const res = await this.#target.db.query(sql`
      delete from ${t} where ctid = any(array(
        select ctid from ${t}
        where applied_at < now() - ${keep}::float8 * interval '1 millisecond'
        order by applied_at
        limit ${this.#batchSize}
        for update skip locked))`);
    const deleted = res.rowCount ?? 0;
    this.#rounds += 1;
    this.#pruned += deleted;
    return deleted;
  }

  /** Waits `ms` or until stopped, on a timer that does not keep the process alive. */
  #pause(ms: number): Promise<void> {
    const signal = this.#stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const cancel = startTimer(ms, done, true);
      signal.addEventListener('abort', done);
    });
  }
}

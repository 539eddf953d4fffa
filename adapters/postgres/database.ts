/**
 * `Database`: the entry point of connkit/postgres. Standalone statements pipelined over a few shared
 * connections (by default), a pool of dedicated connections for everything that holds session state,
 * queries that can be aborted and timed out (cancelled on the server), transactions with savepoints
 * and retries.
 * @module
 */
import type pg from 'pg';
import {
  checkDuration,
  Deadline,
  describeValue,
  PoolClosedError,
  reportBackground,
  type WaitOptions,
} from '../../src/internal/index.js';
import { readCallLimits } from './call-limits.js';
import type { LendConnection } from './connection-lease.js';
import { ConnectionPool } from './connection-pool.js';
import { type ConnectSettings, PgConnection } from './connection.js';
import { copyFrom, copyTo, type CopyFromOptions, type CopySource, type CopyToOptions } from './copy.js';
import { Counters, type DatabaseStats } from './database-stats.js';
import type { ListenConnect, ListenOptions } from './listen-options.js';
import { readListenOptions, subscribe } from './listen.js';
import { notifyStatement } from './notify.js';
import {
  resolveDatabaseOptions,
  type DatabaseOptions,
  type QueryOptions,
  type TransactionOptions,
} from './options.js';
import { PipelineGroup } from './pipeline.js';
import { readQuery, type QueryLike } from './query-input.js';
import { Queryable, type QueryResult } from './queryable.js';
import { runTransaction, type TransactionHost } from './run-transaction.js';
import { classifyStatement, transactionControlRefused } from './statement-kind.js';
import type { StatementRunner } from './statement.js';
import { streamRows, type StreamOptions } from './stream.js';
import type { Subscription } from './subscription.js';
import { SubscriptionSet } from './subscription-set.js';
import type { Transaction } from './transaction.js';
import { withClient } from './with-client.js';

/**
 * A PostgreSQL database. Standalone statements (`query`, `rows`, `one`, `maybeOne`) are pipelined by
 * default: many in flight at once on each of a few shared connections, which is several times faster
 * than one statement per pooled connection, with guards that route around a slow statement (see
 * {@link DatabaseOptions.pipeline}; `pipeline: false` turns it off). Transactions, `withClient`,
 * streams, COPY, LISTEN and statements that change session state use a pool of dedicated connections.
 *
 * @example
 * ```ts
 * import { Database, sql } from 'connkit/postgres';
 * await using db = new Database({ url: process.env.DATABASE_URL, queryTimeout: 5_000 });
 * const user = await db.maybeOne<{ name: string }>('select name from users where id = $1', [42]);
 * await db.transaction(async (tx) => {
 *   await tx.query(sql`update accounts set balance = balance - ${10} where id = ${1}`);
 * }, { isolation: 'serializable', retries: 3 });
 * ```
 */
export class Database extends Queryable {
  readonly #settings: ConnectSettings;
  readonly #pool: ConnectionPool;
  readonly #pipeline: PipelineGroup | undefined;
  readonly #queryTimeout: number;
  readonly #counts = new Counters();
  #closing: Promise<void> | undefined;
  readonly #subscriptions = new SubscriptionSet();
  readonly #lend: LendConnection;
  readonly #connectListen: ListenConnect;
  readonly #transactions: TransactionHost;

  constructor(opts: DatabaseOptions = {}) {
    super();
    const o = resolveDatabaseOptions(opts);
    this.#queryTimeout = o.queryTimeout;
    const settings: ConnectSettings = {
      config: { keepAlive: true, ...o.clientConfig },
      connectTimeout: o.connectTimeout,
      target: o.target,
      secrets: o.secrets,
      logger: o.logger,
      tls: o.tls,
      onBroken: (_conn, err) =>
        reportBackground({ logger: o.logger }, 'connkit/postgres: connection lost', err, {
          target: o.target,
        }),
      onCancel: this.#counts.cancelled,
    };
    this.#settings = settings;
    const pool = new ConnectionPool(settings, o.pool, o.acquireTimeout);
    this.#pool = pool;
    if (o.pipeline !== undefined) this.#pipeline = new PipelineGroup(settings, o.pipeline, pool);
    this.#lend = (signal, deadline) => pool.lend(signal, deadline);
    this.#connectListen = (signal) => PgConnection.open(settings, { signal, deadline: Deadline.NEVER });
    this.#transactions = {
      acquire: (signal, deadline) => pool.acquire(signal, deadline),
      release: (lease) => pool.release(lease),
      closed: () => this.#closing !== undefined,
      onQuery: this.#counts.statement,
      onEnd: this.#counts.ended,
    };
  }

  /**
   * Runs a statement. In pipeline mode (the default) it shares a pipelined connection — with or
   * without `signal`/`timeout` — unless every pipelined connection is stalled or full, the statement
   * changes session state (`SET`, `LISTEN`, temp tables, advisory locks …) or does not run in a
   * transaction (`VACUUM`, `… CONCURRENTLY`): then it takes a dedicated pooled connection; like with
   * any pool, a `SET` affects only the one connection it ran on — use {@link Database.withClient} for
   * that. Transaction control (`BEGIN`, `COMMIT` …)
   * is refused: use {@link Database.transaction}. Text of several statements (`;`-separated, without
   * values) runs them in order on a pooled connection and resolves with the last one's result.
   *
   * An abort or the timeout (per call, else `queryTimeout`; counted from the call, time queued behind
   * other pipelined statements included) rejects at once and cancels the statement on the server: on
   * a pooled connection right away, on a pipelined one once it runs (the statements before it are
   * left alone). `timeout: 0` always rejects with `TimeoutError`, before anything is sent.
   *
   * @example
   * ```ts
   * const { rows } = await db.query<{ id: number }>('select id from users where team = $1', ['core'], { timeout: 2_000 });
   * ```
   */
  query<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<QueryResult<R>> {
    const input = readQuery(query, values);
    const limits = readCallLimits(opts, this.#queryTimeout, 'Query');
    if (limits instanceof Promise) return limits;
    if (this.#closing) return Promise.reject(new PoolClosedError('Database is closed'));
    const kind = classifyStatement(input.text);
    if (kind === 'transaction') return Promise.reject(transactionControlRefused(input.text));
    // The pipeline decides for itself when a statement goes to the pool after all (see PipelineGroup).
    const runner: StatementRunner =
      this.#pipeline !== undefined && kind === 'shared' ? this.#pipeline : this.#pool;
    return runner.run(input, limits).then(this.#counts.answered, this.#counts.failed) as Promise<
      QueryResult<R>
    >;
  }

  /**
   * Runs `fn` in a transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws,
   * is aborted or times out (the running statement is cancelled on the server). With `retries`, `fn`
   * is run again after a serialization failure or deadlock, with jittered backoff.
   *
   * @example
   * ```ts
   * const id = await db.transaction(async (tx) => (await tx.one<{ id: number }>('insert into t default values returning id')).id);
   * ```
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, opts?: TransactionOptions): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    return runTransaction(fn, opts, this.#transactions);
  }

  /**
   * Lends a dedicated `pg.Client` to `fn` and takes it back when `fn` settles. An abort or timeout
   * cancels the client's running statement and aborts the `signal` given to `fn`. A client returned
   * inside a transaction (a `BEGIN` without `COMMIT`) is rolled back or destroyed, never reused dirty.
   *
   * @example
   * ```ts
   * await db.withClient(async (client) => client.query("set local work_mem = '64MB'"), { timeout: 5_000 });
   * ```
   */
  withClient<T>(fn: (client: pg.Client, signal: AbortSignal) => Promise<T>, opts?: WaitOptions): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    const limits = readCallLimits(opts, Infinity, 'withClient()');
    if (limits instanceof Promise) return limits;
    return withClient(this.#pool, fn, limits);
  }

  /**
   * Checks that a connection can be had and answers `select 1` (default timeout: 5 s).
   *
   * @example
   * ```ts
   * await db.ping({ timeout: 1_000 });
   * ```
   */
  ping(opts?: WaitOptions): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', 5_000);
    return this.query('select 1', undefined, { signal: opts?.signal, timeout }).then(noop);
  }

  /**
   * Pool, pipeline and query counters.
   *
   * @example
   * ```ts
   * const { pool, queries, cancellations } = db.stats();
   * ```
   */
  stats(): DatabaseStats {
    return {
      pool: this.#pool.stats(),
      pipeline: this.#pipeline?.stats() ?? { ...NO_PIPELINE },
      ...this.#counts.snapshot(),
    };
  }

  /**
   * Streams rows through a server-side cursor on a dedicated connection, `batchSize` rows per round
   * trip. `break` closes the cursor and releases the connection; an abort or the `timeout` cancels
   * the running batch on the server.
   *
   * @example
   * ```ts
   * for await (const row of db.stream<{ id: number }>('select id from events', [], { batchSize: 500 })) handle(row);
   * ```
   */
  stream<R = Record<string, unknown>>(
    query: string | QueryLike,
    values?: readonly unknown[],
    opts?: StreamOptions,
  ): AsyncIterable<R> {
    return streamRows<R>(this.#lend, query, values, opts);
  }

  /**
   * Subscribes to a channel on its own connection (outside the pool) that reconnects with backoff
   * and re-issues LISTEN after a loss.
   *
   * @example
   * ```ts
   * await using sub = await db.listen('orders', { onReconnect: () => recheck() });
   * for await (const { payload } of sub) console.log(payload);
   * ```
   */
  listen(channel: string, opts: ListenOptions = {}): Promise<Subscription> {
    const limits = readListenOptions(channel, opts, this.#settings.logger);
    if (this.#closing) return Promise.reject(new PoolClosedError('Database is closed'));
    const opening = subscribe(this.#connectListen, channel, opts, limits);
    return this.#subscriptions.add(opening, () => this.#closing !== undefined);
  }

  /**
   * Sends a notification (`select pg_notify($1, $2)`; channel and payload are parameters). Inside a
   * transaction use `tx.query(…)` with the same statement: it is then delivered on commit.
   *
   * @example
   * ```ts
   * await db.notify('orders', JSON.stringify({ id: 42 }));
   * ```
   */
  notify(channel: string, payload?: string, opts?: QueryOptions): Promise<void> {
    return this.query(notifyStatement(channel, payload), undefined, opts).then(noop);
  }

  /**
   * Loads `source` with `COPY … FROM STDIN` on a dedicated connection; resolves with the row count.
   * Abort or timeout rolls the COPY back and keeps the connection.
   *
   * @example
   * ```ts
   * const n = await db.copyFrom(sql`copy ${sql.id('users')} from stdin`, rows(), { timeout: 60_000 });
   * ```
   */
  copyFrom(copySql: string | QueryLike, source: CopySource, opts?: CopyFromOptions): Promise<number> {
    return copyFrom(this.#lend, copySql, source, opts);
  }

  /**
   * Yields the output of `COPY … TO STDOUT` as byte chunks from a dedicated connection; leaving the
   * loop early cancels the COPY and keeps the connection.
   *
   * @example
   * ```ts
   * for await (const chunk of db.copyTo('copy users to stdout with (format csv)')) out.write(chunk);
   * ```
   */
  copyTo(copySql: string | QueryLike, opts?: CopyToOptions): AsyncIterable<Uint8Array> {
    return copyTo(this.#lend, copySql, opts);
  }

  /**
   * Waits (up to `timeout`, default 10 s) for lent connections, then closes everything. Idempotent.
   *
   * @example
   * ```ts
   * await db.close({ timeout: 30_000 });
   * ```
   */
  close(opts?: { timeout?: number | undefined }): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', 10_000);
    this.#closing ??= Promise.all([
      this.#pipeline?.close(timeout),
      this.#pool.close(timeout),
      this.#subscriptions.closeAll(),
    ]).then(noop);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const NO_PIPELINE = Object.freeze({
  connections: 0,
  inFlight: 0,
  stalled: 0,
  statements: 0,
  overflowed: 0,
  moved: 0,
  resent: 0,
  slowRouted: 0,
});

function noop(): void {}

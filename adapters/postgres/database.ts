/**
 * `Database`: the entry point of connkit/postgres. Standalone statements pipelined over a few shared
 * connections (by default), a pool of dedicated connections for everything that holds session state,
 * queries that can be aborted and timed out (cancelled on the server), transactions with savepoints
 * and retries.
 * @module
 */
import type pg from 'pg';
import { checkDuration, describeValue, PoolClosedError, type WaitOptions } from '../../src/internal/index.js';
import { readCallLimits } from './call-limits.js';
import type { LendConnection } from './connection-lease.js';
import type { ConnectSettings } from './connection.js';
import { copyFrom, copyTo, type CopyFromOptions, type CopySource, type CopyToOptions } from './copy.js';
import { openServers } from './database-servers.js';
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
import { readQuery, type QueryLike } from './query-input.js';
import { Queryable, type QueryResult } from './queryable.js';
import { readOnlyTransaction, readReadOnly } from './read-only.js';
import type { ReplicaSet } from './replica-set.js';
import { runTransaction, type TransactionHost } from './run-transaction.js';
import type { ServerPool } from './server-pool.js';
import { classifyStatement, transactionControlRefused } from './statement-kind.js';
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
  /** The primary's connections: everything without `readOnly`. */
  readonly #primary: ServerPool;
  /** The read replicas, when `replicas` were given: `readOnly` work. */
  readonly #replicas: ReplicaSet | undefined;
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
    const servers = openServers(o, this.#counts.cancelled);
    const primary = servers.primary;
    this.#settings = servers.settings;
    this.#primary = primary;
    this.#replicas = servers.replicas;
    this.#lend = (signal, deadline) => primary.lend(signal, deadline);
    this.#connectListen = servers.connectListen;
    this.#transactions = this.#transactionHost(primary);
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
   * `readOnly: true` runs it on a healthy read replica (`replicas`) — pipelined there too, with the
   * same guards — on the primary when there is none; when the replica turns out to be down, the
   * statement (which had no effect there) is run once more on the primary, within the same timeout.
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
    const readOnly = readReadOnly(opts);
    const limits = readCallLimits(opts, this.#queryTimeout, 'Query');
    if (limits instanceof Promise) return limits;
    if (this.#closing) return Promise.reject(new PoolClosedError('Database is closed'));
    const kind = classifyStatement(input.text);
    if (kind === 'transaction') return Promise.reject(transactionControlRefused(input.text));
    const primary = this.#primary;
    // Each server's pipeline decides for itself when a statement goes to its pool after all (see PipelineGroup).
    const run =
      readOnly && this.#replicas !== undefined
        ? this.#replicas.run(
            (server) => server.query(input, limits, kind),
            () => primary.query(input, limits, kind),
            // A standalone read had no effect where it failed: the primary may run it, in the time left.
            () => !limits.deadline.expired(),
          )
        : primary.query(input, limits, kind);
    return run.then(this.#counts.answered, this.#counts.failed) as Promise<QueryResult<R>>;
  }

  /**
   * Runs `fn` in a transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws,
   * is aborted or times out (the running statement is cancelled on the server). With `retries`, `fn`
   * is run again after a serialization failure or deadlock, with jittered backoff. A connection lost
   * while COMMIT was on its way rejects with `CommitInDoubtError`: the outcome is unknown.
   *
   * `readOnly: true` begins `READ ONLY` on a healthy read replica when there are `replicas` (else on
   * the primary); if that replica is unreachable before `fn` ran, on the primary instead — never
   * once `fn` ran.
   *
   * @example
   * ```ts
   * const id = await db.transaction(async (tx) => (await tx.one<{ id: number }>('insert into t default values returning id')).id);
   * ```
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, opts?: TransactionOptions): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    if (opts?.readOnly !== true || this.#replicas === undefined) {
      return runTransaction(fn, opts, this.#transactions);
    }
    return readOnlyTransaction(this.#replicas, fn, opts, (server) =>
      server === undefined ? this.#transactions : this.#transactionHost(server),
    );
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
    return withClient(this.#primary.connections, fn, limits);
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
   * Query counters, the primary's pool and pipeline, and each read replica's URL (password masked),
   * health, pool and pipeline.
   *
   * @example
   * ```ts
   * const { pool, queries, cancellations } = db.stats();
   * ```
   */
  stats(): DatabaseStats {
    return {
      ...this.#primary.stats(),
      replicas: this.#replicas?.stats() ?? [],
      ...this.#counts.snapshot(),
    };
  }

  /**
   * Streams rows through a server-side cursor on a dedicated connection, `batchSize` rows per round
   * trip. `break` closes the cursor and releases the connection; an abort or the `timeout` cancels
   * the running batch on the server. `readOnly: true` streams from a healthy read replica.
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
    const lend =
      readReadOnly(opts) && this.#replicas !== undefined ? this.#replicas.lender(this.#primary) : this.#lend;
    return streamRows<R>(lend, query, values, opts);
  }

  /**
   * Subscribes to a channel on its own connection (outside the pool) that reconnects with backoff
   * and re-issues LISTEN after a loss. It connects to `listenUrl` when given; otherwise to `url`,
   * and rejects with an `InvalidStateError` when that leads through a connection pooler such as
   * PgBouncer (a LISTEN there receives nothing).
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
      this.#primary.close(timeout),
      this.#replicas?.close(timeout),
      this.#subscriptions.closeAll(),
    ]).then(noop);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #transactionHost(server: ServerPool): TransactionHost {
    return {
      acquire: (signal, deadline) => server.acquire(signal, deadline),
      release: (lease) => server.release(lease),
      closed: () => this.#closing !== undefined,
      onQuery: this.#counts.statement,
      onEnd: this.#counts.ended,
      telemetry: server.telemetry,
    };
  }
}

function noop(): void {}

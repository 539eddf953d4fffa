/**
 * `Database`: the entry point of connkit/postgres. A pool of connections with queries that can be
 * aborted and timed out (cancelled on the server), transactions with savepoints and retries, and an
 * optional pipeline mode for many small concurrent queries.
 * @module
 */
import type pg from 'pg';
import {
  checkDuration,
  describeValue,
  InvalidStateError,
  PoolClosedError,
  type PoolStats,
  reportBackground,
  type WaitOptions,
} from '../../src/internal/index.js';
import { readCallLimits } from './call-limits.js';
import { connect, type ConnectSettings } from './connection.js';
import { ConnectionPool, type LentClient } from './connection-pool.js';
import type { ExecuteContext } from './execute.js';
import { PipelineGroup } from './pipeline.js';
import {
  MAX_STATEMENT_TIMEOUT,
  resolveDatabaseOptions,
  type DatabaseOptions,
  type QueryOptions,
  type TransactionOptions,
} from './options.js';
import { readQuery, type QueryLike } from './query-input.js';
import { Queryable, toResult, type QueryResult } from './queryable.js';
import { classifyStatement } from './statement-kind.js';
import { Transaction } from './transaction.js';
import { runTransaction } from './run-transaction.js';
import { copyFrom, copyTo, type CopyFromOptions, type CopySource, type CopyToOptions } from './copy.js';
import { listen as openSubscription, type ListenOptions, type Subscription } from './listen.js';
import { notify } from './notify.js';
import { streamRows, type StreamOptions } from './stream.js';

/**
 * Counters of `db.stats()`.
 *
 * @example
 * ```ts
 * const { pool, queries, errors, cancellations } = db.stats();
 * ```
 */
export interface DatabaseStats {
  /** The connection pool (dedicated connections). */
  pool: PoolStats;
  /** Shared pipelined connections (`connections: 0` when pipeline mode is off). */
  pipeline: { connections: number; inFlight: number };
  /** Statements that completed, successfully or not. */
  queries: number;
  /** Statements that failed (SQL or connection errors; cancellations excluded). */
  errors: number;
  /** Statements cancelled by an abort or a timeout. */
  cancellations: number;
  /** Transactions committed / rolled back. */
  commits: number;
  rollbacks: number;
}

/**
 * A PostgreSQL database behind a pool of connections.
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
  readonly #ctx: ExecuteContext;
  readonly #queryTimeout: number;
  readonly #counts = { queries: 0, errors: 0, cancellations: 0, commits: 0, rollbacks: 0 };
  #closing: Promise<void> | undefined;
  /** Open LISTEN subscriptions (own connections, outside the pool): `close()` ends them too. */
  readonly #subscriptions = new Set<Subscription>();

  constructor(opts: DatabaseOptions = {}) {
    super();
    const o = resolveDatabaseOptions(opts);
    this.#queryTimeout = o.queryTimeout;
    this.#settings = {
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
    };
    this.#ctx = { settings: this.#settings, onCancel: () => this.#counts.cancellations++ };
    const settings = this.#settings;
    this.#pool = new ConnectionPool(settings, o.pool, o.acquireTimeout, this.#ctx);
    if (o.pipelineConnections > 0) {
      let config = settings.config;
      // The default queryTimeout cannot be enforced by a CancelRequest on a shared connection (it
      // could hit a neighbour), so pipelined connections get it as the server's statement_timeout.
      if (o.queryTimeout !== Infinity) {
        const st = Math.min(o.queryTimeout, Number(config.statement_timeout ?? Infinity));
        config = {
          ...config,
          statement_timeout: Math.min(Math.max(1, Math.ceil(st)), MAX_STATEMENT_TIMEOUT),
        };
      }
      this.#pipeline = new PipelineGroup(o.pipelineConnections, { ...settings, config }, o.queryTimeout);
    }
  }

  /**
   * Runs a statement. Without `signal` or `timeout`, and in pipeline mode, it shares a pipelined
   * connection (unless it changes session state); otherwise it takes a pooled connection, and an
   * abort or timeout cancels it on the server. Transaction control (`BEGIN`, `COMMIT` …) is refused:
   * use {@link Database.transaction}. A statement that changes session state (`SET`, `LISTEN`, temp
   * tables, advisory locks …) never runs on a shared pipelined connection; like with any pool, it
   * affects only the one pooled connection it ran on — use {@link Database.withClient} for that.
   * Text of several statements (`;`-separated, without values) runs them in order and resolves with
   * the last one's result.
   *
   * In pipeline mode the default `queryTimeout` is enforced by the server (`statement_timeout` on the
   * pipelined connections, so time spent queued behind other statements is not counted), and a
   * pipelined connection that answers nothing for `queryTimeout` + 5 s is destroyed.
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
    const explicit = opts?.signal !== undefined || opts?.timeout !== undefined;
    const limits = readCallLimits(opts, this.#queryTimeout, 'Query');
    if (limits instanceof Promise) return limits;
    if (this.#closing) return Promise.reject(new PoolClosedError('Database is closed'));
    const kind = classifyStatement(input.text);
    if (kind === 'transaction') {
      return Promise.reject(
        new InvalidStateError(
          `db.query() refuses transaction control (${describeValue(input.text.trim().slice(0, 40))}): its statements would run on different connections — use db.transaction(async (tx) => …)`,
        ),
      );
    }
    const p =
      this.#pipeline !== undefined && kind === 'shared' && !explicit
        ? this.#pipeline.query(input)
        : this.#pool.run(input, limits);
    return p.then(
      (res) => {
        this.#counts.queries++;
        return toResult<R>(res);
      },
      (err: unknown) => {
        this.#counts.queries++;
        this.#counts.errors++;
        throw err;
      },
    );
  }

  /**
   * Runs `fn` in a transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws,
   * is aborted or times out (the running statement is cancelled on the server). With `retries`, `fn`
   * is run again after a serialization failure or deadlock, with jittered backoff.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, opts?: TransactionOptions): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    return runTransaction(fn, opts, {
      acquire: (signal, deadline) => this.#pool.acquire(signal, deadline),
      release: (lease) => this.#pool.release(lease),
      ctx: this.#ctx,
      closed: () => this.#closing !== undefined,
      onQuery: (failed) => {
        this.#counts.queries++;
        if (failed) this.#counts.errors++;
      },
      onEnd: (committed) => {
        if (committed) this.#counts.commits++;
        else this.#counts.rollbacks++;
      },
    });
  }

  /**
   * Lends a dedicated `pg.Client` to `fn` and takes it back when `fn` settles. An abort or timeout
   * cancels the client's running statement and aborts the `signal` given to `fn`. A client returned
   * inside a transaction (a `BEGIN` without `COMMIT`) is rolled back or destroyed, never reused dirty.
   */
  withClient<T>(fn: (client: pg.Client, signal: AbortSignal) => Promise<T>, opts?: WaitOptions): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    const limits = readCallLimits(opts, Infinity, 'withClient()');
    if (limits instanceof Promise) return limits;
    if (this.#closing) return Promise.reject(new PoolClosedError('Database is closed'));
    return this.#pool.withClient(fn, limits);
  }

  /** Checks that a connection can be had and answers `select 1` (default timeout: 5 s). */
  ping(opts?: WaitOptions): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', 5_000);
    return this.query('select 1', undefined, { signal: opts?.signal, timeout }).then(noop);
  }

  /** Pool, pipeline and query counters. */
  stats(): DatabaseStats {
    return {
      pool: this.#pool.stats(),
      pipeline: this.#pipeline?.stats() ?? { connections: 0, inFlight: 0 },
      ...this.#counts,
    };
  }

  /**
   * Streams rows through a server-side cursor on a dedicated connection, `batchSize` rows per round
   * trip (see `streamRows`). `break` closes the cursor and releases the connection; an abort cancels
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
    return streamRows<R>((signal, deadline) => this.#pool.lend(signal, deadline), query, values, opts);
  }

  /**
   * Subscribes to a channel on its own connection (outside the pool) that reconnects with backoff
   * and re-issues LISTEN after a loss (see `listen`).
   *
   * @example
   * ```ts
   * await using sub = await db.listen('orders', { onReconnect: () => recheck() });
   * for await (const { payload } of sub) console.log(payload);
   * ```
   */
  listen(channel: string, opts?: ListenOptions): Promise<Subscription> {
    if (this.#closing) return Promise.reject(new PoolClosedError('Database is closed'));
    for (const s of this.#subscriptions) if (s.closed) this.#subscriptions.delete(s);
    return openSubscription(
      (signal) => this.connectClient(signal),
      channel,
      opts,
      this.#settings.logger,
    ).then(async (sub) => {
      if (this.#closing) {
        await sub.close();
        throw new PoolClosedError('Database is closed');
      }
      this.#subscriptions.add(sub);
      return sub;
    });
  }

  /**
   * Sends a notification (`select pg_notify($1, $2)`; channel and payload are parameters).
   *
   * @example
   * ```ts
   * await db.notify('orders', JSON.stringify({ id: 42 }));
   * ```
   */
  notify(channel: string, payload?: string, opts?: QueryOptions): Promise<void> {
    return notify({ query: (text, values) => this.query(text, values, opts) }, channel, payload);
  }

  /**
   * Loads `source` with `COPY … FROM STDIN` on a dedicated connection; resolves with the row count.
   * Abort or timeout rolls the COPY back and keeps the connection (see `copyFrom`).
   *
   * @example
   * ```ts
   * const n = await db.copyFrom(sql`copy ${sql.id('users')} from stdin`, rows(), { timeout: 60_000 });
   * ```
   */
  copyFrom(copySql: string | QueryLike, source: CopySource, opts?: CopyFromOptions): Promise<number> {
    return copyFrom((signal, deadline) => this.#pool.lend(signal, deadline), copySql, source, opts);
  }

  /**
   * Yields the output of `COPY … TO STDOUT` as byte chunks from a dedicated connection; leaving the
   * loop early destroys that connection (see `copyTo`).
   *
   * @example
   * ```ts
   * for await (const chunk of db.copyTo('copy users to stdout with (format csv)')) out.write(chunk);
   * ```
   */
  copyTo(copySql: string | QueryLike, opts?: CopyToOptions): AsyncIterable<Uint8Array> {
    return copyTo((signal, deadline) => this.#pool.lend(signal, deadline), copySql, opts);
  }

  /**
   * Internal, for `stream`/`copy`: lends a dedicated, non-pipelined client (see `AcquireClient`).
   * `release(err)` with an error destroys the connection.
   */
  acquireClient(signal: AbortSignal | undefined): Promise<LentClient> {
    return this.#pool.lend(signal);
  }

  /** Internal, for `listen`: opens a new connection outside the pool (same settings). */
  async connectClient(signal?: AbortSignal): Promise<pg.Client> {
    return (await connect(this.#settings, signal)).client;
  }

  /** Waits (up to `timeout`, default 10 s) for lent connections, then closes everything. Idempotent. */
  close(opts?: { timeout?: number | undefined }): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', 10_000);
    this.#closing ??= Promise.all([
      this.#pipeline?.close(),
      this.#pool.close(timeout),
      ...[...this.#subscriptions].map((s) => s.close()),
    ]).then(() => undefined);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function noop(): void {}

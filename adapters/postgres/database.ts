/**
 * `Database`: the entry point of connkit/postgres. A pool of connections with queries that can be
 * aborted and timed out (cancelled on the server), transactions with savepoints and retries, and an
 * optional pipeline mode for many small concurrent queries.
 * @module
 */
import type pg from 'pg';
import { InvalidStateError, PoolClosedError } from '../../src/errors.js';
import { checkDuration, describeValue, readWaitOptions, type WaitOptions } from '../../src/options.js';
import { Pool, type Lease } from '../../src/pool.js';
import type { PoolStats } from '../../src/pool-options.js';
import { connect, type ConnectSettings, type PgConnection } from './connection.js';
import { cancelActive, execute, type ExecuteContext } from './execute.js';
import { ScopedSignal } from './scoped-signal.js';
import { PipelineGroup } from './pipeline.js';
import {
  resolveDatabaseOptions,
  type DatabaseOptions,
  type QueryOptions,
  type TransactionOptions,
} from './options.js';
import { readQuery, type QueryInput, type QueryLike } from './query-input.js';
import { Queryable, toResult, type QueryResult } from './queryable.js';
import { settleWithin } from './client-lease.js';
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

const RELEASE_ROLLBACK_MS = 5_000;
/** Milliseconds an aborted `withClient` fn may take to give the client back before it is destroyed. */
const WITH_CLIENT_GRACE_MS = 5_000;

/** readWaitOptions, but an already-aborted signal becomes a rejected promise (bad values still throw). */
function readWaitSync(
  opts: WaitOptions | undefined,
  fallback: number,
): { signal: AbortSignal | undefined; timeout: number } | Promise<never> {
  try {
    return readWaitOptions(opts, fallback);
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    return Promise.reject(err);
  }
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
  readonly #pool: Pool<PgConnection>;
  readonly #pipeline: PipelineGroup | undefined;
  readonly #ctx: ExecuteContext;
  readonly #queryTimeout: number;
  readonly #acquireTimeout: number;
  readonly #counts = { queries: 0, errors: 0, cancellations: 0, commits: 0, rollbacks: 0 };
  #closing: Promise<void> | undefined;
  /** Open LISTEN subscriptions (own connections, outside the pool): `close()` ends them too. */
  readonly #subscriptions = new Set<Subscription>();

  constructor(opts: DatabaseOptions = {}) {
    super();
    const o = resolveDatabaseOptions(opts);
    this.#queryTimeout = o.queryTimeout;
    this.#acquireTimeout = o.acquireTimeout;
    this.#settings = {
      config: { keepAlive: true, ...o.clientConfig },
      connectTimeout: o.connectTimeout,
      target: o.target,
      secrets: o.secrets,
      logger: o.logger,
      onBroken: (_conn, err) => o.logger?.warn('connkit/postgres: connection lost', { error: err.message }),
    };
    this.#ctx = { settings: this.#settings, onCancel: () => this.#counts.cancellations++ };
    const settings = this.#settings;
    this.#pool = new Pool<PgConnection>(
      {
        create: (signal) => connect(settings, signal),
        destroy: (conn) => conn.close(),
        validate: (conn) => conn.broken === undefined,
        // No factory.reset: #release already rolls back or destroys a connection left inside a
        // transaction, and the pool's synchronous release path is measurably faster without it.
      },
      { name: 'postgres', ...o.pool },
    );
    this.#pool.on('error', (err: unknown) => o.logger?.warn('connkit/postgres: pool error', { error: err }));
    if (o.pipelineConnections > 0) {
      let config = settings.config;
      // The default queryTimeout cannot be enforced by a CancelRequest on a shared connection (it
      // could hit a neighbour), so pipelined connections get it as the server's statement_timeout.
      if (o.queryTimeout !== Infinity) {
        const st = Math.min(o.queryTimeout, Number(config.statement_timeout ?? Infinity));
        config = { ...config, statement_timeout: Math.max(1, Math.ceil(st)) };
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
    let wait: { signal: AbortSignal | undefined; timeout: number };
    try {
      wait = readWaitOptions(opts, this.#queryTimeout);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw err;
      return Promise.reject(err);
    }
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
        : this.#dedicated(input, wait.signal, wait.timeout);
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
      acquire: (signal, timeout) => this.#acquire(signal, timeout),
      release: (lease) => this.#release(lease),
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
    const wait = readWaitSync(opts, Infinity);
    if (wait instanceof Promise) return wait;
    return this.#withClient(fn, wait.signal, wait.timeout);
  }

  async #withClient<T>(
    fn: (client: pg.Client, signal: AbortSignal) => Promise<T>,
    signal: AbortSignal | undefined,
    timeout: number,
  ): Promise<T> {
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    const lease = await this.#acquire(signal, deadline);
    const scoped = new ScopedSignal(signal, deadline, 'withClient()', () => {
      this.#counts.cancellations++;
      lease.resource.busy ??= cancelActive(lease.resource, this.#settings);
    });
    let settled = false;
    const work = Promise.resolve().then(() => fn(lease.resource.client, scoped.signal));
    const tracked = work.then(
      () => (settled = true),
      () => (settled = true),
    );
    try {
      return await scoped.race(work);
    } finally {
      scoped.dispose();
      if (settled) void this.#release(lease);
      else {
        // Aborted while fn still holds the raw client: it must not reach the next borrower while
        // fn may still use it. Wait a little for fn to notice its signal, else destroy it.
        void settleWithin(tracked, WITH_CLIENT_GRACE_MS).then((ok) => {
          if (!ok) lease.resource.markBroken(new Error('withClient() fn ignored its abort signal'));
          return this.#release(lease);
        });
      }
    }
  }

  /** Checks that a connection can be had and answers `select 1` (default timeout: 5 s). */
  ping(opts?: WaitOptions): Promise<void> {
    const timeout = checkDuration(opts?.timeout, 'timeout', 5_000);
    return this.query('select 1', undefined, { signal: opts?.signal, timeout }).then(() => undefined);
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
    return streamRows<R>((signal) => this.acquireClient(signal), query, values, opts);
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
    return openSubscription((signal) => this.connectClient(signal), channel, opts).then(async (sub) => {
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
    return copyFrom((signal) => this.acquireClient(signal), copySql, source, opts);
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
    return copyTo((signal) => this.acquireClient(signal), copySql, opts);
  }

  /**
   * Internal, for `stream`/`copy`: lends a dedicated, non-pipelined client (see `AcquireClient`).
   * `release(err)` with an error destroys the connection.
   */
  async acquireClient(
    signal: AbortSignal | undefined,
  ): Promise<{ client: pg.Client; release(err?: unknown): void; cancel(): Promise<unknown> }> {
    const lease = await this.#acquire(signal, Infinity);
    let done = false;
    return {
      client: lease.resource.client,
      release: (err?: unknown) => {
        if (done) return;
        done = true;
        if (err !== undefined) {
          lease.resource.markBroken(err instanceof Error ? err : new Error('released after a failure'));
        }
        void this.#release(lease);
      },
      cancel: () => (lease.resource.busy ??= cancelActive(lease.resource, this.#settings)),
    };
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
      this.#pool.close({ timeout }),
      ...[...this.#subscriptions].map((s) => s.close()),
    ]).then(() => undefined);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #dedicated(
    input: QueryInput,
    signal: AbortSignal | undefined,
    timeout: number,
  ): Promise<pg.QueryResult> {
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    const lease = await this.#acquire(signal, deadline);
    try {
      return await execute(lease.resource, input, [signal], deadline, this.#ctx);
    } finally {
      void this.#release(lease);
    }
  }

  #acquire(signal: AbortSignal | undefined, deadline: number): Promise<Lease<PgConnection>> {
    const remaining = deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
    return this.#pool.acquire({ signal, timeout: Math.min(remaining, this.#acquireTimeout) });
  }

  /** Gives a connection back: after a cancelled statement has wound down, rolled back if left in a transaction. */
  async #release(lease: Lease<PgConnection>): Promise<void> {
    const conn = lease.resource;
    try {
      if (conn.busy) await conn.busy;
      if (conn.broken === undefined && !isIdle(conn)) {
        this.#settings.logger?.warn(
          'connkit/postgres: connection returned inside a transaction; rolling back',
        );
        await execute(
          conn,
          { text: 'rollback', values: undefined },
          [],
          performance.now() + RELEASE_ROLLBACK_MS,
          {
            settings: this.#settings,
          },
        );
      }
    } catch {
      // The rollback failed: the connection cannot be trusted; the pool's reset check destroys it.
    }
    if (conn.broken !== undefined || !isIdle(conn)) await lease.destroy();
    else await lease.release();
  }
}

function isIdle(conn: PgConnection): boolean {
  const s = conn.transactionStatus;
  return s === 'I' || s === null;
}

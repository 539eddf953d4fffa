/**
 * `ConnectionPool`: the one place the adapter uses the core `Pool` — dedicated connections for
 * statements that can be cancelled, transactions, `withClient`, streams and COPY. Its release path
 * makes sure no connection goes back dirty: a cancelled statement is waited for, a connection left
 * inside a transaction is rolled back (or destroyed), a broken one is destroyed.
 * @module
 */
import type pg from 'pg';
import {
  Deadline,
  type Lease,
  Pool,
  type PoolOptions,
  type PoolStats,
  reportBackground,
  Scope,
} from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import { settleWithin } from './client-lease.js';
import { connect, type ConnectSettings, type PgConnection } from './connection.js';
import { cancelActive, execute, type ExecuteContext } from './execute.js';
import type { QueryInput } from './query-input.js';

const RELEASE_ROLLBACK_MS = 5_000;
/** Milliseconds an aborted `withClient` fn may take to give the client back before it is destroyed. */
const WITH_CLIENT_GRACE_MS = 5_000;

/** A dedicated client lent to a stream or COPY (see `AcquireClient` in client-lease.ts). */
export interface LentClient {
  client: pg.Client;
  release(err?: unknown): void;
  cancel(): Promise<unknown>;
}

/**
 * Internal pool of dedicated connections.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool(settings, { max: 10 }, 10_000, ctx);
 * const res = await pool.run({ text: 'select 1', values: undefined }, signal, 5_000);
 * ```
 */
export class ConnectionPool {
  readonly #settings: ConnectSettings;
  readonly #pool: Pool<PgConnection>;
  readonly #acquireTimeout: number;
  readonly #ctx: ExecuteContext;

  constructor(settings: ConnectSettings, options: PoolOptions, acquireTimeout: number, ctx: ExecuteContext) {
    this.#settings = settings;
    this.#acquireTimeout = acquireTimeout;
    this.#ctx = ctx;
    this.#pool = new Pool<PgConnection>(
      {
        create: (signal) => connect(settings, signal),
        destroy: (conn) => conn.close(),
        validate: (conn) => conn.broken === undefined,
        // No factory.reset: release() below already rolls back or destroys a connection left inside
        // a transaction, and without reset the pool takes its synchronous release path (one async hop
        // less per query).
      },
      { name: 'postgres', ...options },
    );
    this.#pool.on('error', (err: unknown) =>
      reportBackground({ logger: settings.logger }, 'connkit/postgres: pool error', err, {
        target: settings.target,
      }),
    );
  }

  /** Borrows a connection; waits at most until `deadline` and `acquireTimeout`. */
  acquire(signal: AbortSignal | undefined, deadline: Deadline): Promise<Lease<PgConnection>> {
    const timeout = Math.min(deadline.remaining(), this.#acquireTimeout);
    return signal === undefined ? this.#pool.acquire({ timeout }) : this.#acquireWatched(signal, timeout);
  }

  async #acquireWatched(signal: AbortSignal, timeout: number): Promise<Lease<PgConnection>> {
    // The core Pool puts a listener on the signal of every waiting acquire, so a request's signal
    // shared by many queued calls would collect one each (and a MaxListenersExceededWarning): the
    // pool gets a scope's own signal instead, and the caller's is watched once, whatever the calls.
    using scope = new Scope({ signal });
    return await this.#pool.acquire({ signal: scope.signal, timeout });
  }

  /** Runs one statement on a borrowed connection; abort/timeout cancel it on the server. */
  async run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult> {
    // An idle connection is taken synchronously (no promise, no turn of the microtask queue): the
    // common case for a lightly loaded pool, and what makes a query cost no more than with pg.Pool.
    const lease =
      (limits.signal?.aborted ? undefined : this.#pool.tryAcquire()) ??
      (await this.acquire(limits.signal, limits.deadline));
    try {
      return await execute(lease.resource, input, limits, this.#ctx);
    } finally {
      void this.release(lease);
    }
  }

  /** See `Database.withClient`. */
  async withClient<T>(
    fn: (client: pg.Client, signal: AbortSignal) => Promise<T>,
    limits: CallLimits,
  ): Promise<T> {
    const lease = await this.acquire(limits.signal, limits.deadline);
    const scoped = new Scope({
      signal: limits.signal,
      deadline: limits.deadline,
      timeoutMessage: (ms) => `withClient() timed out after ${ms} ms`,
      onAbort: () => {
        this.#ctx.onCancel?.();
        lease.resource.busy ??= cancelActive(lease.resource, this.#settings);
      },
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
      if (settled) void this.release(lease);
      else {
        // Aborted while fn still holds the raw client: it must not reach the next borrower while
        // fn may still use it. Wait a little for fn to notice its signal, else destroy it.
        void settleWithin(tracked, WITH_CLIENT_GRACE_MS).then((ok) => {
          if (!ok) lease.resource.markBroken(new Error('withClient() fn ignored its abort signal'));
          return this.release(lease);
        });
      }
    }
  }

  /** Lends a dedicated client to a stream or COPY; `release(err)` with an error destroys it. */
  async lend(signal: AbortSignal | undefined, deadline = Deadline.NEVER): Promise<LentClient> {
    const lease = await this.acquire(signal, deadline);
    let done = false;
    return {
      client: lease.resource.client,
      release: (err?: unknown) => {
        if (done) return;
        done = true;
        if (err !== undefined) {
          lease.resource.markBroken(err instanceof Error ? err : new Error('released after a failure'));
        }
        void this.release(lease);
      },
      cancel: () => (lease.resource.busy ??= cancelActive(lease.resource, this.#settings)),
    };
  }

  /** Gives a connection back: after a cancelled statement wound down, rolled back if left in a transaction. */
  release(lease: Lease<PgConnection>): Promise<void> {
    const conn = lease.resource;
    // The common case, synchronously: a healthy, idle connection goes straight to the next caller.
    if (conn.busy === undefined && conn.broken === undefined && isIdle(conn)) return lease.release();
    return this.#releaseDirty(lease);
  }

  async #releaseDirty(lease: Lease<PgConnection>): Promise<void> {
    const conn = lease.resource;
    try {
      if (conn.busy) await conn.busy;
      if (conn.broken === undefined && !isIdle(conn)) {
        this.#settings.logger?.warn(
          { target: this.#settings.target, pid: conn.processID },
          'connkit/postgres: connection returned inside a transaction; rolling back',
        );
        const limits = { signal: undefined, deadline: Deadline.after(RELEASE_ROLLBACK_MS) };
        await execute(conn, { text: 'rollback', values: undefined }, limits, { settings: this.#settings });
      }
    } catch {
      // The rollback failed: the connection cannot be trusted and is destroyed below.
    }
    if (conn.broken !== undefined || !isIdle(conn)) await lease.destroy();
    else await lease.release();
  }

  stats(): PoolStats {
    return this.#pool.stats();
  }

  close(timeout: number): Promise<void> {
    return this.#pool.close({ timeout });
  }
}

function isIdle(conn: PgConnection): boolean {
  const s = conn.transactionStatus;
  return s === 'I' || s === null;
}

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
} from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import type { ConnectionLease } from './connection-lease.js';
import { type ConnectSettings, PgConnection } from './connection.js';
import type { QueryInput } from './query-input.js';

/** Milliseconds the ROLLBACK of a connection given back inside a transaction may take. */
const RELEASE_ROLLBACK_MS = 5_000;
const ROLLBACK: QueryInput = { text: 'rollback', values: undefined };

/**
 * Internal pool of dedicated connections.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool(settings, { max: 10 }, 10_000);
 * const res = await pool.run({ text: 'select 1', values: undefined }, { signal, deadline });
 * ```
 */
export class ConnectionPool {
  readonly #settings: ConnectSettings;
  readonly #pool: Pool<PgConnection>;
  readonly #acquireTimeout: number;

  constructor(settings: ConnectSettings, options: PoolOptions, acquireTimeout: number) {
    this.#settings = settings;
    this.#acquireTimeout = acquireTimeout;
    this.#pool = new Pool<PgConnection>(
      {
        create: (signal) => PgConnection.open(settings, { signal, deadline: Deadline.NEVER }),
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
    return this.#pool.acquire({ signal, timeout });
  }

  /**
   * Runs one statement on a borrowed connection; abort/timeout cancel it on the server. Same
   * signature as `PipelineGroup.run`: `Database.query` picks one of the two.
   */
  async run(input: QueryInput, limits: CallLimits): Promise<pg.QueryResult> {
    // An idle connection is taken synchronously (no promise, no turn of the microtask queue): the
    // common case for a lightly loaded pool, and what makes a query cost no more than with pg.Pool.
    const lease =
      (limits.signal?.aborted ? undefined : this.#pool.tryAcquire()) ??
      (await this.acquire(limits.signal, limits.deadline));
    try {
      return await lease.resource.run(input, limits);
    } finally {
      void this.release(lease);
    }
  }

  /** Lends a dedicated connection to a stream or COPY; `release(err)` with an error destroys it. */
  async lend(signal: AbortSignal | undefined, deadline: Deadline): Promise<ConnectionLease> {
    const lease = await this.acquire(signal, deadline);
    let done = false;
    return {
      conn: lease.resource,
      release: (err?: unknown) => {
        if (done) return;
        done = true;
        if (err !== undefined) {
          lease.resource.markBroken(err instanceof Error ? err : new Error('released after a failure'));
        }
        void this.release(lease);
      },
    };
  }

  /** Gives a connection back: after a cancelled statement wound down, rolled back if left in a transaction. */
  release(lease: Lease<PgConnection>): Promise<void> {
    const conn = lease.resource;
    // The common case, synchronously: a healthy, idle connection goes straight to the next caller.
    if (conn.busy === undefined && conn.broken === undefined && conn.idle) return lease.release();
    return this.#releaseDirty(lease);
  }

  stats(): PoolStats {
    return this.#pool.stats();
  }

  close(timeout: number): Promise<void> {
    return this.#pool.close({ timeout });
  }

  async #releaseDirty(lease: Lease<PgConnection>): Promise<void> {
    const conn = lease.resource;
    try {
      if (conn.busy) await conn.busy;
      if (conn.broken === undefined && !conn.idle) {
        this.#settings.logger?.warn(
          { target: this.#settings.target, pid: conn.processID },
          'connkit/postgres: connection returned inside a transaction; rolling back',
        );
        await conn.run(ROLLBACK, { signal: undefined, deadline: Deadline.after(RELEASE_ROLLBACK_MS) });
      }
    } catch {
      // The rollback failed: the connection cannot be trusted and is destroyed below.
    }
    if (conn.broken !== undefined || !conn.idle) await lease.destroy();
    else await lease.release();
  }
}

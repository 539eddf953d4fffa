/**
 * How streams and COPY borrow a connection: a {@link LendConnection} function (the pool's `lend`)
 * hands out a dedicated, non-pipelined {@link PgConnection} as a {@link ConnectionLease}, and takes
 * it back through `release`.
 * @module
 */
import type { Deadline } from '../../src/internal/index.js';
import type { PgConnection } from './connection.js';

/**
 * A dedicated connection lent to one stream or COPY.
 *
 * @example
 * ```ts
 * const lease = await lend(signal, deadline);
 * try { await lease.conn.run(input); lease.release(); } catch (err) { lease.release(err); throw err; }
 * ```
 */
export interface ConnectionLease {
  /** A connected, non-pipelined connection that runs nothing else while lent. */
  readonly conn: PgConnection;
  /**
   * Gives the connection back; only the first call counts. With an argument, the connection may be
   * in an unknown protocol state (an abort mid-statement, a socket error): it is destroyed, not reused.
   */
  release(err?: unknown): void;
}

/**
 * Lends a dedicated connection; rejects with `signal.reason` when `signal` aborts while waiting,
 * and gives up waiting at `deadline`.
 *
 * @example
 * ```ts
 * const lend: LendConnection = (signal, deadline) => pool.lend(signal, deadline);
 * ```
 */
export type LendConnection = (
  signal: AbortSignal | undefined,
  deadline: Deadline,
) => Promise<ConnectionLease>;

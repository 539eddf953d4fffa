/**
 * {@link withClient}, the body of `db.withClient()`: lends a pooled connection's raw `pg.Client` to a
 * function and takes it back — never to the next borrower while the function may still use it.
 * @module
 */
import type pg from 'pg';
import { type CallLimits, callScope } from './call-limits.js';
import type { ConnectionPool } from './connection-pool.js';
import { settleWithin } from './settle-within.js';

/** Milliseconds an aborted `fn` may take to give the client back before its connection is destroyed. */
const GRACE_MS = 5_000;

/**
 * Runs `fn(client, signal)` on a dedicated connection within `limits`. An abort or timeout cancels
 * the client's running statement on the server, aborts the `signal` given to `fn` and rejects at
 * once; the connection goes back only once `fn` has settled (or, if it ignores its signal for
 * {@link GRACE_MS}, is destroyed). The release path rolls back a client left inside a transaction.
 *
 * @example
 * ```ts
 * await withClient(pool, async (client, signal) => client.query('select 1'), { signal, deadline });
 * ```
 */
export async function withClient<T>(
  pool: ConnectionPool,
  fn: (client: pg.Client, signal: AbortSignal) => Promise<T>,
  limits: CallLimits,
): Promise<T> {
  const lease = await pool.acquire(limits.signal, limits.deadline);
  const conn = lease.resource;
  const scope = callScope(limits, 'withClient()', () => {
    conn.settings.onCancel?.();
    void conn.cancel();
  });
  let settled = false;
  const work = Promise.resolve().then(() => fn(conn.client, scope.signal));
  const tracked = work.then(
    () => (settled = true),
    () => (settled = true),
  );
  try {
    return await scope.race(work);
  } finally {
    scope.dispose();
    if (settled) void pool.release(lease);
    else {
      // Aborted while fn still holds the raw client: it must not reach the next borrower while fn
      // may still use it. Wait a little for fn to notice its signal, else destroy it.
      void settleWithin(tracked, GRACE_MS).then((ok) => {
        if (!ok) conn.markBroken(new Error('withClient() fn ignored its abort signal'));
        return pool.release(lease);
      });
    }
  }
}

/**
 * {@link refuseBehindPooler}: `listen()` must not run through a transaction-mode pooler.
 *
 * How a pooler is recognised: at connect time PostgreSQL sends BackendKeyData with the pid of the
 * backend that serves the session (what `pg_backend_pid()` returns) and the secret key for
 * CancelRequests. PgBouncer cannot pass that on — in transaction mode a client's statements run on
 * whichever server connection is free — so it hands each client a random key of its own and maps
 * CancelRequests itself (pgbouncer/pgbouncer#945 made the pid half of that random key positive;
 * pgjdbc/pgjdbc#2318 met the negative ones before). So a session whose `pg_backend_pid()` differs from the
 * pid it was told is not talking to a backend of its own. The check costs one `select` and holds
 * whatever the pooler (PgBouncer, pgcat, Odyssey, Supavisor, RDS Proxy) or its version: none of them
 * can know a backend pid before it picked a server connection. Counting on a statement only
 * PgBouncer understands would not work: on a normal database connection it forwards everything, and
 * `SHOW POOLS` & co. answer only on its admin console.
 *
 * A LISTEN through such a pooler lands on the server connection the pooler picked for that one
 * statement, which then serves other clients; its notifications reach nobody (or somebody else).
 * @module
 */
import { InvalidStateError } from '../../src/internal/index.js';
import type { CallLimits } from './call-limits.js';
import type { PgConnection } from './connection.js';

/**
 * Resolves when `conn` has a backend of its own; otherwise closes it and rejects with an
 * `InvalidStateError` that names PgBouncer and says to pass `listenUrl`.
 *
 * @example
 * ```ts
 * const conn = await PgConnection.open(settings, limits);
 * await refuseBehindPooler(conn, limits);
 * ```
 */
export async function refuseBehindPooler(conn: PgConnection, limits: CallLimits): Promise<void> {
  const told = conn.processID;
  let backend: number | undefined;
  try {
    const { rows } = await conn.run({ text: 'select pg_backend_pid() as pid', values: undefined }, limits);
    backend = (rows[0] as { pid?: number } | undefined)?.pid;
  } catch (err) {
    await conn.close();
    throw err;
  }
  if (backend === told) return;
  await conn.close();
  throw new InvalidStateError(
    `listen(): PostgreSQL at ${conn.endpoint.target} is reached through a connection pooler such as PgBouncer ` +
      `(the session was told backend pid ${told}, but its statements run on backend ${backend}). In transaction ` +
      `mode a LISTEN lands on whichever server connection the pooler picks for that one statement and its ` +
      `notifications never arrive: give the Database a listenUrl, a direct URL to the primary ` +
      `(new Database({ url, listenUrl }))`,
  );
}

/**
 * Internal-module tests (streams, COPY, LISTEN) on real connections: a `PgConnection` opened on the
 * test server, and one lent through the `LendConnection` contract that records each release.
 */
import type { ConnectionLease, LendConnection } from '../../../adapters/postgres/connection-lease.js';
import { type ConnectSettings, PgConnection } from '../../../adapters/postgres/connection.js';
import { uniqueName } from '../../support/names.js';
import { databaseUrl } from '../../support/services.js';

/** Settings for connections to `url` (the test server by default) under `app`. */
export function connectSettings(
  opts: { app?: string; url?: string; pipeline?: boolean | undefined; connectTimeout?: number } = {},
): ConnectSettings {
  return {
    config: {
      connectionString: opts.url ?? databaseUrl(),
      application_name: opts.app ?? uniqueName('conn'),
      pipeline: opts.pipeline ?? false,
    },
    connectTimeout: opts.connectTimeout ?? 10_000,
    target: 'test',
    secrets: [],
  };
}

/** Opens a connection (see {@link connectSettings}). */
export function openConnection(opts: Parameters<typeof connectSettings>[0] = {}): Promise<PgConnection> {
  return PgConnection.open(connectSettings(opts));
}

export interface LeaseHarness {
  lend: LendConnection;
  conn: PgConnection;
  /** application_name of the connection, for pg_stat_activity checks. */
  app: string;
  lent: number;
  /** The arguments of each release() call: `[]` = healthy, `[err]` = destroy. */
  releases: unknown[][];
  end(): Promise<void>;
}

/** One real connection, lent again and again, recording how it comes back. */
export async function leaseHarness(opts: { pipeline?: boolean } = {}): Promise<LeaseHarness> {
  const app = uniqueName('lease');
  const conn = await openConnection({ app, pipeline: opts.pipeline });
  const h: LeaseHarness = {
    conn,
    app,
    lent: 0,
    releases: [],
    end: () => conn.close(),
    lend: async (signal) => {
      signal?.throwIfAborted();
      h.lent++;
      const lease: ConnectionLease = { conn, release: (...args: unknown[]) => void h.releases.push(args) };
      return lease;
    },
  };
  return h;
}

/**
 * True when the connection answers a query within 2 s. A cursor or COPY left open keeps it busy (it
 * is the active query), so this is how a test sees that it was closed.
 */
export async function answers(conn: PgConnection): Promise<boolean> {
  await conn.busy; // a cancel still winding down: what the pool's release waits for too
  const query = conn.client.query('select 1 as ok').then((r) => r.rows[0]?.ok === 1);
  const late = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref());
  return Promise.race([query, late]);
}

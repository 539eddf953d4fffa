/** A raw pg client lent through the AcquireClient contract, recording each release (for stream/copy tests). */
import pg from 'pg';
import type { AcquireClient, ClientLease } from '../../../adapters/postgres/client-lease.js';
import { uniqueName } from '../../support/names.js';
import { withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';

export interface LeaseHarness {
  acquire: AcquireClient;
  client: pg.Client;
  /** application_name of the client, for pg_stat_activity checks. */
  app: string;
  acquired: number;
  /** The arguments of each release() call: `[]` = healthy, `[err]` = destroy. */
  releases: unknown[][];
  end(): Promise<void>;
}

export async function leaseHarness(
  opts: { cancel?: boolean; pipeline?: boolean } = {},
): Promise<LeaseHarness> {
  const app = uniqueName('lease');
  const client = new pg.Client({
    connectionString: databaseUrl(),
    application_name: app,
    pipeline: opts.pipeline ?? false,
  });
  client.on('error', () => undefined);
  await client.connect();
  const pid = (client as unknown as { processID: number }).processID;
  const h: LeaseHarness = {
    client,
    app,
    acquired: 0,
    releases: [],
    end: () => client.end().catch(() => undefined),
    acquire: async (signal) => {
      signal?.throwIfAborted();
      h.acquired++;
      const lease: ClientLease = { client, release: (...args: unknown[]) => void h.releases.push(args) };
      if (!opts.cancel) return lease;
      return {
        ...lease,
        cancel: () => withPgClient(databaseUrl(), (c) => c.query('select pg_cancel_backend($1)', [pid])),
      };
    },
  };
  return h;
}

/**
 * True when the client answers a query within 2 s. A cursor or COPY left open keeps the client busy
 * (it is the active query), so this is how a test sees that it was closed.
 */
export async function answers(client: pg.Client): Promise<boolean> {
  const query = client.query('select 1 as ok').then((r) => r.rows[0]?.ok === 1);
  const late = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref());
  return Promise.race([query, late]);
}

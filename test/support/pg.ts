/** Raw-`pg` helpers for integration tests: setup, assertions and server-side faults. */
import pg from 'pg';
import { uniqueName } from './names.js';

/** Runs `fn` with a raw, connected pg client and always closes it. */
export async function withPgClient<R>(url: string, fn: (client: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh schema for one test file; `drop()` removes it with everything in it. */
export async function createTestSchema(url: string): Promise<{ name: string; drop(): Promise<void> }> {
  const name = uniqueName('s');
  await withPgClient(url, (c) => c.query(`create schema "${name}"`));
  return {
    name,
    drop: () =>
      withPgClient(url, (c) => c.query(`drop schema if exists "${name}" cascade`)).then(() => undefined),
  };
}

export interface BackendRow {
  pid: number;
  state: string | null;
  query: string;
  application_name: string;
}

/** The server's view (pg_stat_activity) of the connections that use `applicationName`. */
export function backendsOf(url: string, applicationName: string): Promise<BackendRow[]> {
  return withPgClient(url, async (c) => {
    const res = await c.query<BackendRow>(
      'select pid, state, query, application_name from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
      [applicationName],
    );
    return res.rows;
  });
}

/** Kills (pg_terminate_backend) every connection that uses `applicationName`; returns how many. */
export function terminateBackends(url: string, applicationName: string): Promise<number> {
  return withPgClient(url, async (c) => {
    const res = await c.query<{ ok: boolean }>(
      'select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()',
      [applicationName],
    );
    return res.rows.filter((r) => r.ok).length;
  });
}

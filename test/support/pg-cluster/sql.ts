/**
 * What the HA harness asks the servers over SQL: a node's role, whether it takes writes, whether a
 * standby has replayed everything its primary wrote. Shared by the local and the compose cluster.
 */
import pg from 'pg';
import { pollUntil } from './processes.js';

/** What a node is right now; `down` when it does not answer within the connect timeout. */
export type NodeRole = 'primary' | 'standby' | 'down';

/**
 * Runs one statement on a fresh connection (short connect timeout: a stopped or frozen node must
 * not hang the harness) and closes it.
 * @example
 * const rows = await queryOnce(url, 'select pg_is_in_recovery() as r');
 */
export async function queryOnce<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
  connectTimeout = 2000,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeout });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `primary` (not in recovery), `standby` (in recovery) or `down` (does not answer).
 * @example
 * expect(await nodeRole(url)).toBe('standby');
 */
export async function nodeRole(url: string): Promise<NodeRole> {
  try {
    const [row] = await queryOnce<{ r: boolean }>(url, 'select pg_is_in_recovery() as r');
    return row?.r ? 'standby' : 'primary';
  } catch {
    return 'down';
  }
}

/**
 * Waits until the node at `url` assigns a transaction id — only a server out of recovery can, so this
 * is "accepts writes" without touching any table.
 * @example
 * await waitAcceptsWrites(urlOfB, 30_000);
 */
export async function waitAcceptsWrites(url: string, ms: number): Promise<void> {
  let last: unknown;
  const ok = await pollUntil(async () => {
    try {
      await queryOnce(url, 'select pg_current_xact_id()');
      return true;
    } catch (err) {
      last = err;
      return false;
    }
  }, ms);
  if (!ok) throw new Error(`${url} did not accept writes within ${ms} ms: ${String(last)}`);
}

/**
 * True when the primary at `primaryUrl` lists the standby `standbyName` (its application_name) as
 * streaming — it follows this primary, on its timeline.
 * @example
 * if (await streamsFrom(urlOfA, 'connkit-ha-x-b')) await waitCaughtUp(urlOfA, 'connkit-ha-x-b', 30_000);
 */
export async function streamsFrom(primaryUrl: string, standbyName: string): Promise<boolean> {
  const rows = await queryOnce(
    primaryUrl,
    "select 1 from pg_stat_replication where application_name = $1 and state = 'streaming'",
    [standbyName],
  ).catch(() => []);
  return rows.length > 0;
}

/** The primary's view of one standby, for error messages. */
async function replicationRow(primaryUrl: string, standbyName: string): Promise<string> {
  const rows = await queryOnce(
    primaryUrl,
    'select state, replay_lsn::text, pg_current_wal_lsn()::text as current from pg_stat_replication where application_name = $1',
    [standbyName],
  ).catch((err: unknown) => [{ error: String(err) }]);
  return JSON.stringify(rows);
}

/**
 * Waits until the standby named `standbyName` (its `application_name`) streams from the primary at
 * `primaryUrl` and its `replay_lsn` has reached the primary's WAL position taken when the wait
 * began. `state = 'streaming'` alone is not enough: a standby can stream before it follows.
 * @example
 * await waitCaughtUp(urlOfA, 'connkit-ha-x-b', 30_000);
 */
export async function waitCaughtUp(primaryUrl: string, standbyName: string, ms: number): Promise<void> {
  const [target] = await queryOnce<{ lsn: string }>(primaryUrl, 'select pg_current_wal_lsn()::text as lsn');
  const ok = await pollUntil(async () => {
    try {
      const rows = await queryOnce<{ ok: boolean }>(
        primaryUrl,
        `select state = 'streaming' and replay_lsn >= $2::pg_lsn as ok
           from pg_stat_replication where application_name = $1`,
        [standbyName, target!.lsn],
      );
      return rows.some((r) => r.ok);
    } catch {
      return false;
    }
  }, ms);
  if (!ok) {
    throw new Error(
      `standby ${standbyName} did not replay up to ${target!.lsn} within ${ms} ms; pg_stat_replication: ${await replicationRow(primaryUrl, standbyName)}`,
    );
  }
}

/**
 * Drops the physical slot `slot` on the server at `url` once no walsender uses it (a standby killed a
 * moment ago may still hold it); a missing slot is fine.
 * @example
 * await dropSlot(urlOfA, 'connkit_ha_b', 10_000);
 */
export async function dropSlot(url: string, slot: string, ms: number): Promise<void> {
  const ok = await pollUntil(async () => {
    const rows = await queryOnce<{ active: boolean }>(
      url,
      'select active from pg_replication_slots where slot_name = $1',
      [slot],
    );
    return !rows[0]?.active;
  }, ms);
  if (!ok) throw new Error(`replication slot ${slot} still in use after ${ms} ms`);
  await queryOnce(
    url,
    'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
    [slot],
  );
}

/**
 * Proves the HA harness (test/support/pg-cluster): a real primary `a`, its streaming standby `b` and
 * PgBouncer in transaction mode in front of `a`; failover and reset; and that a start which fails
 * halfway leaves no process behind. Prints the timings of failover and reset.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/names.js';
import { withPgClient } from '../support/pg.js';
import { pgCluster, type PgCluster } from '../support/pg-cluster.js';
import { findPgPrograms, type PgPrograms } from '../support/pg-cluster/binaries.js';
import { startLocalCluster } from '../support/pg-cluster/local-lifecycle.js';
import { pidsMatching } from '../support/pg-cluster/processes.js';
import { until } from '../support/async.js';

const cluster = pgCluster();

const timings: Record<string, number[]> = {};
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    (timings[name] ??= []).push(Math.round(performance.now() - started));
  }
}

afterAll(() => {
  if (Object.keys(timings).length > 0) console.log(`[pg-ha] timings (ms): ${JSON.stringify(timings)}`);
});

/** A table on the primary with one row, for replication checks. */
async function tableWithRow(c: PgCluster, node: 'a' | 'b' = 'a'): Promise<string> {
  const table = uniqueName('ha');
  await withPgClient(c.url(node), async (client) => {
    await client.query(`create table ${table} (v text)`);
    await client.query(`insert into ${table} values ('written on ${node}')`);
  });
  return table;
}

async function rowsOf(url: string, table: string): Promise<string[]> {
  return withPgClient(url, async (client) =>
    (await client.query<{ v: string }>(`select v from ${table}`)).rows.map((r) => r.v),
  );
}

async function inRecovery(url: string): Promise<boolean> {
  return withPgClient(
    url,
    async (client) => (await client.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]!.r,
  );
}

describe.skipIf(!cluster)('pg-cluster harness (a primary, b streaming standby, PgBouncer)', () => {
  const c = cluster!;
  beforeEach(() => timed('reset', () => c.reset()));

  it('pg_is_in_recovery() is false on a and true on b; primary() names a', async () => {
    expect(await inRecovery(c.url('a'))).toBe(false);
    expect(await inRecovery(c.url('b'))).toBe(true);
    expect(await c.primary()).toBe('a');
    expect(await c.role('b')).toBe('standby');
  });

  it('a row written on a is visible on b within 10 s, and b refuses writes (25006)', async () => {
    const table = await tableWithRow(c);
    await timed('replication visible', () =>
      until(
        async () => (await rowsOf(c.url('b'), table).catch(() => [])).length === 1,
        10_000,
        `row of ${table} on b`,
      ),
    );
    expect(await rowsOf(c.url('b'), table)).toEqual(['written on a']);
    await expect(
      withPgClient(c.url('b'), (client) => client.query(`insert into ${table} values ('x')`)),
    ).rejects.toMatchObject({ code: '25006' });
  });

  it('PgBouncer answers, in front of a, in transaction mode (server connection released after each statement)', async () => {
    const config = await withPgClient(c.bouncerAdminUrl, (client) =>
      client.query<{ key: string; value: string }>('SHOW CONFIG'),
    );
    expect(config.rows.find((r) => r.key === 'pool_mode')?.value).toBe('transaction');
    expect(await inRecovery(c.bouncerUrl())).toBe(false);

    const serversInUse = async () => {
      const pools = await withPgClient(c.bouncerAdminUrl, (client) =>
        client.query<{ database: string; sv_active: string; cl_active: string }>('SHOW POOLS'),
      );
      const pool = pools.rows.find((r) => r.database === c.database);
      return { servers: Number(pool?.sv_active), clients: Number(pool?.cl_active) };
    };
    const x = new pg.Client({ connectionString: c.bouncerUrl() });
    const y = new pg.Client({ connectionString: c.bouncerUrl() });
    x.on('error', () => undefined);
    y.on('error', () => undefined);
    await x.connect();
    await y.connect();
    try {
      await x.query('select 1');
      await y.query('select 1');
      // Session mode would keep one server connection linked to each open client: 2 here.
      expect(await serversInUse()).toEqual({ servers: 0, clients: 2 });
      await y.query('begin');
      await y.query('select 1');
      expect((await serversInUse()).servers).toBe(1);
      await y.query('commit');
      expect((await serversInUse()).servers).toBe(0);
    } finally {
      await Promise.all([x.end(), y.end()]);
    }
  });

  it('stop(a) then promote(b): b accepts writes and primary() names b', async () => {
    const table = await tableWithRow(c);
    await c.waitCaughtUp('b');
    await timed('stop a (immediate)', () => c.stop('a'));
    expect(await c.role('a')).toBe('down');
    await timed('promote b', () => c.promote('b'));
    expect(await c.primary()).toBe('b');
    await withPgClient(c.url('b'), (client) => client.query(`insert into ${table} values ('written on b')`));
    expect((await rowsOf(c.url('b'), table)).sort()).toEqual(['written on a', 'written on b']);
  });

  it('reset() after a failover: a primary again, b streaming from it with replay_lsn caught up, PgBouncer works', async () => {
    await c.stop('a');
    await c.promote('b');
    expect(await c.primary()).toBe('b');

    await timed('reset after failover', () => c.reset());
    expect(await c.primary()).toBe('a');
    expect(await inRecovery(c.url('b'))).toBe(true);
    const table = await tableWithRow(c);
    await c.waitCaughtUp('b');
    const [row] = await withPgClient(
      c.url('a', 'postgres'),
      async (client) =>
        (
          await client.query<{ state: string; caught_up: boolean }>(
            `select state, replay_lsn >= pg_current_wal_lsn() as caught_up from pg_stat_replication`,
          )
        ).rows,
    );
    expect(row).toEqual({ state: 'streaming', caught_up: true });
    expect(await rowsOf(c.url('b'), table)).toEqual(['written on a']);
    expect(await rowsOf(c.bouncerUrl(), table)).toEqual(['written on a']);
  });

  it('stop(b) and start(b): a replica outage and its return; b catches up on what a wrote meanwhile', async () => {
    await timed('stop b', () => c.stop('b'));
    expect(await c.role('b')).toBe('down');
    const table = await tableWithRow(c);
    await timed('start b', () => c.start('b'));
    await timed('b caught up', () => c.waitCaughtUp('b'));
    expect(await rowsOf(c.url('b'), table)).toEqual(['written on a']);
  });

  it('pause(b) freezes b (a connection attempt gets no answer); resume(b) brings it back', async () => {
    await c.pause('b');
    try {
      const client = new pg.Client({ connectionString: c.url('b'), connectionTimeoutMillis: 500 });
      client.on('error', () => undefined);
      await expect(client.connect()).rejects.toThrow(/timeout/i);
      await client.end().catch(() => undefined);
    } finally {
      await c.resume('b');
    }
    expect(await inRecovery(c.url('b'))).toBe(true);
  });
});

describe.skipIf(cluster?.kind !== 'local')('startLocalCluster() cleanup', () => {
  it('stops every process it started, by pid, and removes its files when the start fails halfway', async () => {
    // Hold the port PgBouncer is told to use, so the start fails after both nodes are up.
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as net.AddressInfo).port;
    const tempRoot = mkdtempSync(path.join(tmpdir(), 'connkit-ha-cleanup-'));
    chmodSync(tempRoot, 0o711); // the servers' user must reach its subdirectory
    const lines: string[] = [];
    try {
      await expect(
        startLocalCluster(findPgPrograms() as PgPrograms, {
          tempRoot,
          ports: { bouncer: taken },
          log: (line) => lines.push(line),
        }),
      ).rejects.toThrow(/PgBouncer|Address already in use/);
      const failure = lines.find((l) => l.startsWith('start of '));
      expect(failure).toMatch(/failed after initdb, primary, database, standby; 0 processes left/);
      const tag = /start of (\S+)/.exec(failure!)![1]!;
      expect(pidsMatching(tag)).toEqual([]);
      expect(pidsMatching(tempRoot)).toEqual([]);
      expect(readdirSync(tempRoot)).toEqual([]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
      rmSync(tempRoot, { recursive: true, force: true });
    }
  });
});

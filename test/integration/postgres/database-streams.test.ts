import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../../adapters/postgres/database.js';
import { DatabaseError } from '../../../adapters/postgres/errors.js';
import { sql } from '../../../adapters/postgres/sql.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema, terminateBackends } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { until } from '../../support/async.js';

let schema: { name: string; drop(): Promise<void> };
let db: Database;
const app = uniqueName('dbs');

beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  db = new Database({ url: databaseUrl(), applicationName: app, pool: { max: 2 } });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

/** Waits until the pool has no lease out (release is asynchronous: it may roll back first). */
async function settled(): Promise<void> {
  await until(() => db.stats().pool.borrowed === 0, 10_000, 'every lease back in the pool');
}

describe('Database.stream()', () => {
  it('streams rows on a pooled connection and gives it back on break', async () => {
    const seen: number[] = [];
    for await (const row of db.stream<{ x: number }>(
      sql`select x from generate_series(1, ${100000}::int) x`,
      undefined,
      {
        batchSize: 64,
      },
    )) {
      seen.push(row.x);
      if (seen.length === 300) break;
    }
    expect(seen.at(-1)).toBe(300);
    await settled();
    expect(await db.one<{ n: number }>('select 5 as n')).toEqual({ n: 5 });
  });

  it('cancels a slow batch on the server when aborted and keeps the connection', async () => {
    const ac = new AbortController();
    const reason = new Error('abort stream');
    const destroyedBefore = db.stats().pool.destroyed;
    const it = db.stream('select pg_sleep(30)', [], { signal: ac.signal })[Symbol.asyncIterator]();
    const pending = it.next();
    for (let i = 0; i < 200; i++) {
      if (
        (await backendsOf(databaseUrl(), app)).some(
          (b) => b.state === 'active' && b.query.includes('pg_sleep'),
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 25));
    }
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await settled();
    expect(db.stats().pool.destroyed).toBe(destroyedBefore);
    expect((await backendsOf(databaseUrl(), app)).filter((b) => b.state === 'active')).toEqual([]);
  });
});

describe('Database.listen()', () => {
  it('receives db.notify() on its own connection and survives a terminated backend', async () => {
    const channel = uniqueName('Chan');
    const sub = await db.listen(channel, { reconnect: { initialDelay: 20, maxDelay: 200 } });
    try {
      await db.notify(channel, 'first');
      expect((await sub.next()).value).toEqual(expect.objectContaining({ channel, payload: 'first' }));
      expect(await terminateBackends(databaseUrl(), app)).toBeGreaterThanOrEqual(1);
      const next = sub.next();
      let got: string | undefined;
      void next.then((r) => (got = r.value?.payload));
      for (let i = 0; i < 200 && got === undefined; i++) {
        await db.notify(channel, `again-${i}`).catch(() => undefined); // the pool may hand out a killed connection once
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(got).toMatch(/^again-/);
      expect(sub.reconnects).toBe(1);
    } finally {
      await sub.close();
    }
    await settled();
  });
});

describe('Database.close()', () => {
  it('closes open subscriptions and refuses new ones', async () => {
    const ownApp = uniqueName('dbclose');
    const own = new Database({ url: databaseUrl(), applicationName: ownApp });
    const sub = await own.listen(uniqueName('ch'));
    const pending = sub.next();
    await own.close();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    expect(sub.closed).toBe(true);
    expect(await backendsOf(databaseUrl(), ownApp)).toEqual([]);
    await expect(own.listen('again')).rejects.toThrow(/closed/);
  });
});

describe('Database.copyFrom() / copyTo()', () => {
  it('loads a table and reads it back through pooled connections', async () => {
    const t = sql.id([schema.name, uniqueName('copy')]);
    await db.query(sql`create table ${t} (id int, name text)`);
    async function* rows() {
      for (let i = 1; i <= 5000; i++) yield `${i}\tn${i}\n`;
    }
    expect(await db.copyFrom(sql`copy ${t} from stdin`, rows())).toBe(5000);
    const chunks: Uint8Array[] = [];
    for await (const c of db.copyTo(sql`copy ${t} to stdout`)) chunks.push(c);
    expect(Buffer.concat(chunks).toString().trimEnd().split('\n')).toHaveLength(5000);
    const destroyedBefore = db.stats().pool.destroyed;
    for await (const _ of db.copyTo('copy (select x from generate_series(1, 5000000) x) to stdout')) break;
    await settled();
    expect(db.stats().pool.destroyed).toBe(destroyedBefore); // cancelled and drained, not destroyed
    await expect(db.copyFrom(sql`copy ${t} from stdin`, ['x\ty\n'])).rejects.toBeInstanceOf(DatabaseError);
    await settled();
    expect((await db.one<{ n: string }>(sql`select count(*) as n from ${t}`)).n).toBe('5000');
  });
});

/**
 * Behind PgBouncer in transaction mode (the harness's, in front of a): standalone and pipelined
 * queries, transactions (with savepoints), COPY both ways, cursor streams and cancellation work; a
 * LISTEN is refused with an error naming PgBouncer unless a direct `listenUrl` is given, which is
 * then used (and receives what is NOTIFYed through PgBouncer).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Database, type DatabaseOptions, sql } from '../../adapters/postgres/index.js';
import { InvalidStateError, TimeoutError } from '../../src/index.js';
import { rejectionOf, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { withPgClient } from '../support/pg.js';
import { pgCluster } from '../support/pg-cluster.js';

const cluster = pgCluster();

describe.skipIf(!cluster)('Database through PgBouncer (transaction mode)', () => {
  const c = cluster!;
  const open: Database[] = [];
  const database = (opts: DatabaseOptions = {}) => {
    const db = new Database({ url: c.bouncerUrl(), applicationName: uniqueName('pgb'), ...opts });
    open.push(db);
    return db;
  };
  let table: string;

  beforeAll(async () => {
    await c.reset();
    table = uniqueName('pgb');
    await withPgClient(c.url('a'), (client) => client.query(`create table ${table} (id int, note text)`));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
  });

  it('goes through PgBouncer: the session was handed a key that is not its backend pid', async () => {
    // What refuseBehindPooler() relies on, proved on the real PgBouncer and on a direct connection.
    const keyAndBackend = (url: string) =>
      withPgClient(url, async (client) => ({
        key: (client as unknown as { processID: number }).processID,
        backend: (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid,
      }));
    const bounced = await keyAndBackend(c.bouncerUrl());
    expect(bounced.key).not.toBe(bounced.backend);
    const direct = await keyAndBackend(c.url('a'));
    expect(direct.key).toBe(direct.backend);
  });

  it('standalone queries on pooled connections, with timeouts and cancellation', async () => {
    const db = database({ pool: { max: 4 }, pipeline: false });
    const values = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.one<{ v: number }>('select $1::int as v', [i], { timeout: 5_000 }),
      ),
    );
    expect(values.map((r) => r.v)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // A timeout cancels through PgBouncer (it maps its own key to the backend's) and the pool stays healthy.
    await expect(db.query('select pg_sleep(5)', [], { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await db.one<{ v: number }>('select 7 as v', [], { timeout: 5_000 })).toEqual({ v: 7 });
    expect(db.stats().cancellations).toBe(1);
  });

  it('pipelined queries (the default), prepared statements among them, with timeouts and cancellation', async () => {
    const db = database({ pipeline: { connections: 2 } });
    // Several texts with parameters, over several rounds: PgBouncer 1.18 keeps no prepared statement
    // across its server connections, so a statement may land where its name is missing (26000) or
    // already there (42P05); it did not run, is re-sent unnamed, and after a few such refusals the
    // pipeline stops preparing. No caller sees any of it (in runs here: 0–200 of the 600 re-sent,
    // all within one round — at most the statements in flight when the refusals came).
    const resentAfter: number[] = [];
    for (let round = 0; round < 3; round++) {
      const values = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          db.one<{ v: number }>(`select $1::int + ${i % 4} as v`, [i]).then((r) => r.v - (i % 4)),
        ),
      );
      expect(values).toEqual(Array.from({ length: 200 }, (_, i) => i));
      resentAfter.push(db.stats().pipeline.resent);
    }
    expect(db.stats().pipeline.connections).toBe(2);
    console.log(
      `[pgbouncer] pipelined: ${JSON.stringify(db.stats().pipeline)}, resent after each round ${resentAfter.join(', ')}`,
    );
    // An error in one pipelined query fails only that one.
    const mixed = await Promise.allSettled([db.one('select 1/0'), db.one<{ v: number }>('select 2 as v')]);
    expect(mixed[0].status).toBe('rejected');
    expect(mixed[1]).toEqual({ status: 'fulfilled', value: { v: 2 } });
    // A timeout cancels the pipelined statement through PgBouncer (its CancelRequest goes to the
    // server connection the client is linked to: the one running it); the pipeline stays usable.
    await expect(db.query('select pg_sleep(5)', [], { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await db.one<{ v: number }>('select $1::int as v', [7], { timeout: 5_000 })).toEqual({ v: 7 });
    expect(db.stats().cancellations).toBe(1);
    await until(
      () =>
        withPgClient(c.url('a'), async (client) => {
          const { rows } = await client.query(
            `select 1 from pg_stat_activity where query = 'select pg_sleep(5)' and state = 'active'`,
          );
          return rows.length === 0;
        }),
      3_000,
      'the cancelled sleep to stop on the server',
    );
  });

  it('transactions with savepoints commit and roll back', async () => {
    const db = database();
    await db.transaction(async (tx) => {
      await tx.query(`insert into ${table} values (1, 'kept')`);
      await tx
        .transaction(async (inner) => {
          await inner.query(`insert into ${table} values (2, 'rolled back')`);
          throw new Error('undo the savepoint');
        })
        .catch(() => undefined);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`insert into ${table} values (3, 'rolled back')`);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await db.rows(`select id from ${table} where id <= 3 order by id`)).toEqual([{ id: 1 }]);
  });

  it('COPY FROM and COPY TO', async () => {
    const db = database();
    async function* lines() {
      for (let i = 100; i < 1_100; i++) yield `${i}\tcopied ${i}\n`;
    }
    expect(await db.copyFrom(sql`copy ${sql.id(table)} (id, note) from stdin`, lines())).toBe(1_000);
    let text = '';
    for await (const chunk of db.copyTo(
      `copy (select id from ${table} where id >= 100 order by id) to stdout`,
    )) {
      text += Buffer.from(chunk).toString('utf8');
    }
    expect(text.trim().split('\n').map(Number)).toEqual(Array.from({ length: 1_000 }, (_, i) => 100 + i));
  });

  it('cursor streams', async () => {
    const db = database();
    let sum = 0;
    let n = 0;
    for await (const row of db.stream<{ i: number }>('select generate_series(1, 2500) as i', [], {
      batchSize: 100,
    })) {
      sum += row.i;
      n++;
    }
    expect({ n, sum }).toEqual({ n: 2_500, sum: (2_500 * 2_501) / 2 });
  });

  it('listen() without listenUrl is refused with an error naming PgBouncer', async () => {
    const db = database();
    const err = await rejectionOf(db.listen(uniqueName('chan')));
    expect(err).toBeInstanceOf(InvalidStateError);
    expect((err as Error).message).toMatch(/connection pooler such as PgBouncer/);
    expect((err as Error).message).toMatch(/listenUrl/);
  });

  it('listen() with listenUrl uses the direct URL and receives what is notified through PgBouncer', async () => {
    const db = database({ listenUrl: c.url('a') });
    const channel = uniqueName('chan');
    await using sub = await db.listen(channel);
    const received: string[] = [];
    const reading = (async () => {
      for await (const n of sub) {
        received.push(n.payload);
        if (received.length === 3) break;
      }
    })();
    for (const payload of ['one', 'two', 'three']) await db.notify(channel, payload);
    await until(() => received.length === 3, 5_000, 'three notifications');
    await reading;
    expect(received).toEqual(['one', 'two', 'three']);
  });
});

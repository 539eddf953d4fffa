/**
 * Read replicas on the real pair (a primary, b its streaming standby, and a third node c on request):
 * `readOnly` work runs on a healthy replica, spread over several; a replica that dies is marked
 * unhealthy and probed, its reads run on the primary meanwhile without an error (a read in flight on
 * it is retried on the primary; a transaction whose fn ran is not), and they return when it is back.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionError, Database, type DatabaseOptions } from '../../adapters/postgres/index.js';
import { rejectionOf, track, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { withPgClient } from '../support/pg.js';
import { type ExtraStandby, pgCluster } from '../support/pg-cluster.js';
import { freePort } from '../support/pg-cluster/ports.js';

const cluster = pgCluster();

interface Where {
  port: number;
  recovery: boolean;
}
const WHERE = 'select inet_server_port() as port, pg_is_in_recovery() as recovery';

describe.skipIf(!cluster)('Database with read replicas', () => {
  const c = cluster!;
  const port = (node: 'a' | 'b') => Number(new URL(c.url(node)).port);
  const open: Database[] = [];
  const database = (opts: DatabaseOptions) => {
    const db = new Database({ applicationName: uniqueName('rep'), ...opts });
    open.push(db);
    return db;
  };
  let extra: ExtraStandby | undefined;

  beforeEach(() => c.reset());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
  });
  afterAll(async () => {
    await extra?.stop();
  });

  it('readOnly query/rows/one/maybeOne/stream run on the replica (pg_is_in_recovery() is true there); without readOnly, on the primary', async () => {
    const db = database({ url: c.url('a'), replicas: [c.url('b')], pipeline: { connections: 1 } });
    const onReplica = { port: port('b'), recovery: true };
    const onPrimary = { port: port('a'), recovery: false };
    // Standalone statements are pipelined on the replica as on the primary, with or without a timeout.
    expect(await db.one<Where>(WHERE, [], { readOnly: true })).toEqual(onReplica);
    expect(await db.one<Where>(WHERE, [], { readOnly: true, timeout: 5_000 })).toEqual(onReplica);
    expect(await db.maybeOne<Where>(WHERE, [], { readOnly: true })).toEqual(onReplica);
    expect(await db.rows<Where>(WHERE, [], { readOnly: true })).toEqual([onReplica]);
    expect((await db.query<Where>(WHERE, [], { readOnly: true })).rows).toEqual([onReplica]);
    const streamed: Where[] = [];
    for await (const row of db.stream<Where>(`${WHERE} from generate_series(1, 3)`, [], { readOnly: true })) {
      streamed.push(row);
    }
    expect(streamed).toEqual([onReplica, onReplica, onReplica]);
    expect(await db.one<Where>(WHERE)).toEqual(onPrimary);
    expect(await db.one<Where>(WHERE, [], { readOnly: false, timeout: 5_000 })).toEqual(onPrimary);
    for await (const row of db.stream<Where>(WHERE)) expect(row).toEqual(onPrimary);
    expect(await db.transaction((tx) => tx.one<Where>(WHERE))).toEqual(onPrimary);
    // Each server's own pipeline ran its standalone statements; streams and transactions took pools.
    const stats = db.stats();
    expect(stats.replicas[0]!.pipeline).toMatchObject({ statements: 5, overflowed: 0 });
    expect(stats.pipeline).toMatchObject({ statements: 2, overflowed: 0 });
    expect(stats.replicas[0]!.pool.created).toBe(1);
  });

  it("a slow readOnly statement that stalls the replica's pipelined connection is moved to the replica's own pool, and the reads behind it finish", async () => {
    const db = database({
      url: c.url('a'),
      replicas: [c.url('b')],
      pipeline: { connections: 1, stallAfter: 50 },
    });
    const onReplica = { port: port('b'), recovery: true };
    expect(await db.one<Where>(WHERE, [], { readOnly: true })).toEqual(onReplica);
    const slow = track(db.one<Where>(`${WHERE}, pg_sleep(1)::text as slept`, [], { readOnly: true }));
    const behind = await Promise.all(
      Array.from({ length: 5 }, () => db.one<Where>(WHERE, [], { readOnly: true, timeout: 5_000 })),
    );
    expect(behind).toEqual(Array.from({ length: 5 }, () => onReplica));
    expect(slow.status).toBe('pending'); // its sleep started over on a dedicated connection to b
    expect(await slow.promise).toMatchObject(onReplica);
    const stats = db.stats();
    expect(stats.replicas[0]!.pipeline).toMatchObject({ statements: 7, moved: 1 });
    // The moved head was re-sent, and at most one read behind it: PostgreSQL 15 signals a
    // CancelRequest twice, and a second signal that lands after the head stopped fails the read then
    // running, which had no effect and is re-sent on the replica's pool too (CancelLedger).
    const hitBehind = stats.replicas[0]!.pipeline.resent - 1;
    expect(hitBehind === 0 || hitBehind === 1, `resent ${hitBehind + 1}`).toBe(true);
    expect(stats.replicas[0]!.pool.created).toBeGreaterThanOrEqual(1);
    expect(stats.replicas[0]!.pool.created).toBeLessThanOrEqual(1 + hitBehind);
    // Nothing of it touched the primary.
    expect(stats.pool.created).toBe(0);
    expect(stats.pipeline.statements).toBe(0);
  });

  it('transaction(fn, { readOnly: true }) runs BEGIN READ ONLY on the replica', async () => {
    const table = uniqueName('rotx');
    await withPgClient(c.url('a'), (client) => client.query(`create table ${table} (id int)`));
    await c.waitCaughtUp('b');
    const db = database({ url: c.url('a'), replicas: [c.url('b')] });
    const seen = await db.transaction(
      async (tx) => ({
        where: await tx.one<Where>(WHERE),
        readOnly: (await tx.one<{ transaction_read_only: string }>('show transaction_read_only'))
          .transaction_read_only,
      }),
      { readOnly: true },
    );
    expect(seen).toEqual({ where: { port: port('b'), recovery: true }, readOnly: 'on' });
    await expect(
      db.transaction((tx) => tx.query(`insert into ${table} values (1)`), { readOnly: true }),
    ).rejects.toMatchObject({ code: '25006' });
  });

  it('readOnly without replicas runs on the primary (documented), and readOnly must be a boolean', async () => {
    const db = database({ url: c.url('a') });
    expect(await db.one<Where>(WHERE, [], { readOnly: true })).toEqual({ port: port('a'), recovery: false });
    expect(await db.transaction((tx) => tx.one<Where>(WHERE), { readOnly: true })).toEqual({
      port: port('a'),
      recovery: false,
    });
    expect(() => db.query('select 1', [], { readOnly: 'yes' as never })).toThrow(
      /readOnly must be a boolean, got "yes"/,
    );
  });

  it('spreads readOnly work over several replicas', async () => {
    extra ??= await c.startExtraStandby();
    const portC = Number(new URL(extra.url).port);
    const db = database({ url: c.url('a'), replicas: [c.url('b'), extra.url] });
    // One after another (ties go round in turn) and concurrently (the least busy first).
    const sequential: number[] = [];
    for (let i = 0; i < 10; i++) sequential.push((await db.one<Where>(WHERE, [], { readOnly: true })).port);
    const concurrent = await Promise.all(
      Array.from(
        { length: 20 },
        async () =>
          (await db.one<Where>(`${WHERE}, pg_sleep(0.05)`, [], { readOnly: true, timeout: 10_000 })).port,
      ),
    );
    const count = (ports: number[], p: number) => ports.filter((x) => x === p).length;
    expect(count(sequential, port('b'))).toBe(5);
    expect(count(sequential, portC)).toBe(5);
    expect(count(concurrent, port('b'))).toBeGreaterThanOrEqual(5);
    expect(count(concurrent, portC)).toBeGreaterThanOrEqual(5);
    expect(count(concurrent, port('b')) + count(concurrent, portC)).toBe(20);
    expect(db.stats().replicas.map((r) => r.healthy)).toEqual([true, true]);
  });

  it('a replica that dies is marked unhealthy, its reads (even one in flight) run on the primary without an error, and return once it is back', async () => {
    const db = database({ url: c.url('a'), replicas: [c.url('b')], connectTimeout: 1_000 });
    expect((await db.one<Where>(WHERE, [], { readOnly: true })).port).toBe(port('b'));
    // Steady readers, none of which may see an error.
    const errors: unknown[] = [];
    const answeredBy: number[] = [];
    let stop = false;
    const reader = async () => {
      while (!stop) {
        try {
          answeredBy.push((await db.one<Where>(`${WHERE}, pg_sleep(0.01)`, [], { readOnly: true })).port);
        } catch (err) {
          errors.push(err);
        }
      }
    };
    const readers = Array.from({ length: 4 }, () => reader());
    try {
      // A read in flight on the replica when it dies: retried on the primary.
      const inFlight = track(
        db.one<Where & { slept: string }>(`${WHERE}, pg_sleep(2)::text as slept`, [], { readOnly: true }),
      );
      await until(
        async () =>
          withPgClient(c.url('b'), async (client) => {
            const { rows } = await client.query(
              `select 1 from pg_stat_activity where query like '%pg_sleep(2)::text%' and pid <> pg_backend_pid()`,
            );
            return rows.length === 1;
          }),
        5_000,
        'the long read to run on b',
      );
      await c.stop('b');
      expect(await inFlight.promise).toMatchObject({ port: port('a'), recovery: false });
      await until(() => db.stats().replicas[0]!.healthy === false, 5_000, 'the replica marked unhealthy');
      const mark = answeredBy.length;
      await until(() => answeredBy.length >= mark + 20, 10_000, '20 reads while the replica is down');
      expect(answeredBy.slice(mark).every((p) => p === port('a'))).toBe(true);
      await c.start('b');
      await until(() => db.stats().replicas[0]!.healthy, 15_000, 'the replica healthy again');
      const back = answeredBy.length;
      await until(() => answeredBy.slice(back).includes(port('b')), 10_000, 'reads on the replica again');
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    expect(errors).toEqual([]);
  });

  it('a read-only transaction whose fn already ran is not retried on the primary when its replica dies', async () => {
    const db = database({ url: c.url('a'), replicas: [c.url('b')] });
    let runs = 0;
    const err = await rejectionOf(
      db.transaction(
        async (tx) => {
          runs++;
          await tx.one(WHERE);
          await c.stop('b');
          await tx.one(WHERE);
        },
        { readOnly: true },
      ),
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect(runs).toBe(1);
    expect(db.stats().replicas[0]!.healthy).toBe(false);
    // …while a transaction that could not even start on the dead replica runs on the primary.
    expect(await db.transaction((tx) => tx.one<Where>(WHERE), { readOnly: true })).toEqual({
      port: port('a'),
      recovery: false,
    });
  });

  it('a replica unreachable from the start: reads run on the primary; stats().replicas shows it unhealthy, URL password masked', async () => {
    const closed = await freePort([port('a'), port('b')]);
    const db = database({
      url: c.url('a'),
      replicas: [`postgres://postgres:s3cret@127.0.0.1:${closed}/${c.database}`, c.url('b')],
    });
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) ports.push((await db.one<Where>(WHERE, [], { readOnly: true })).port);
    // The first read went to the dead replica (its turn) and was answered by the primary; the rest by b.
    expect(ports).toEqual([port('a'), ...Array<number>(5).fill(port('b'))]);
    const [dead, live] = db.stats().replicas;
    expect(dead).toMatchObject({
      url: `postgres://postgres:***@127.0.0.1:${closed}/${c.database}`,
      healthy: false,
    });
    expect(JSON.stringify(db.stats())).not.toContain('s3cret');
    expect(live).toMatchObject({ url: c.url('b'), healthy: true });
    expect(live!.pipeline.statements).toBe(5);
    expect(dead!.pipeline).toMatchObject({ connections: 0, statements: 0 });
  });
});

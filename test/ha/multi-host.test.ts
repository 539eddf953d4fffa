/**
 * Multi-host URLs on the real pair (a primary, b its streaming standby): hosts tried in order,
 * target_session_attrs with libpq's meaning, an unreachable host costing at most connectTimeout,
 * errors naming every host without the password, and a primary turned read-only under a pool
 * (25006) whose connection is not reused.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CommitInDoubtError,
  ConnectionError,
  Database,
  DatabaseError,
  type DatabaseOptions,
} from '../../adapters/postgres/index.js';
import { rejectionOf, track, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { withPgClient } from '../support/pg.js';
import { pgCluster } from '../support/pg-cluster.js';
import { multiHost } from '../support/pg-cluster/cluster.js';
import { freePort } from '../support/pg-cluster/ports.js';

const cluster = pgCluster();

describe.skipIf(!cluster)('Database over a multi-host URL (libpq syntax)', () => {
  const c = cluster!;
  const port = (node: 'a' | 'b') => Number(new URL(c.url(node)).port);
  const hosts = (order: ('a' | 'b')[], query = '') =>
    multiHost(
      order.map((n) => c.url(n)),
      c.database,
      query,
    );
  const open: Database[] = [];
  const database = (opts: DatabaseOptions) => {
    const db = new Database({ applicationName: uniqueName('mh'), ...opts });
    open.push(db);
    return db;
  };
  const serverOf = async (db: Database, opts?: { timeout?: number }) =>
    (await db.one<{ port: number }>('select inet_server_port() as port', [], opts)).port;

  beforeEach(() => c.reset());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
  });

  it('with the standby listed first and target_session_attrs=read-write, every connection lands on the primary', async () => {
    const db = database({
      url: hosts(['b', 'a'], 'target_session_attrs=read-write'),
      pool: { max: 4 },
      pipeline: { connections: 2 },
    });
    // Pipelined statements (with and without a timeout), transactions and withClient: every path.
    const seen = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => serverOf(db, i % 2 === 0 ? { timeout: 5_000 } : undefined)),
      ...Array.from({ length: 4 }, () =>
        db.transaction(
          async (tx) => (await tx.one<{ port: number }>('select inet_server_port() as port')).port,
        ),
      ),
      db.withClient(
        async (client) => (await client.query('select inet_server_port() as port')).rows[0].port as number,
      ),
    ]);
    expect(new Set(seen)).toEqual(new Set([port('a')]));
    expect(db.stats().pool.created).toBeGreaterThanOrEqual(1);
    expect(db.stats().pipeline.connections).toBe(2);
  });

  it('each target_session_attrs picks the host libpq would pick, in either order', async () => {
    const expected: [string, 'a' | 'b', 'a' | 'b'][] = [
      // attrs,           hosts a,b   hosts b,a
      ['any', 'a', 'b'],
      ['read-write', 'a', 'a'],
      ['primary', 'a', 'a'],
      ['read-only', 'b', 'b'],
      ['standby', 'b', 'b'],
      ['prefer-standby', 'b', 'b'],
    ];
    for (const [attrs, ab, ba] of expected) {
      const q = `target_session_attrs=${attrs}`;
      expect(await serverOf(database({ url: hosts(['a', 'b'], q) })), `${attrs} a,b`).toBe(port(ab));
      expect(await serverOf(database({ url: hosts(['b', 'a'], q) })), `${attrs} b,a`).toBe(port(ba));
    }
  });

  it('the host= and port= query parameters work like hosts in the authority', async () => {
    const url = `postgres://postgres@/${c.database}?host=127.0.0.1,127.0.0.1&port=${port('b')},${port('a')}&target_session_attrs=primary`;
    expect(await serverOf(database({ url }))).toBe(port('a'));
  });

  it('prefer-standby falls back to the primary when no standby answers; standby then fails naming the hosts', async () => {
    await c.stop('b');
    expect(await serverOf(database({ url: hosts(['b', 'a'], 'target_session_attrs=prefer-standby') }))).toBe(
      port('a'),
    );
    const standby = database({ url: hosts(['b', 'a'], 'target_session_attrs=standby') });
    const failing = standby.query('select 1', [], { timeout: 10_000 });
    await expect(failing).rejects.toBeInstanceOf(ConnectionError);
    await expect(standby.query('select 1', [], { timeout: 10_000 })).rejects.toThrow(
      new RegExp(
        `127\\.0\\.0\\.1:${port('b')}/${c.database}.*ECONNREFUSED.*127\\.0\\.0\\.1:${port('a')}/${c.database} is not in hot standby`,
      ),
    );
  });

  it('an unreachable host costs at most connectTimeout, then the next host is tried', async () => {
    await c.pause('b'); // accepts TCP (the kernel does) but answers nothing
    try {
      const db = database({ url: hosts(['b', 'a']), connectTimeout: 500 });
      const started = performance.now();
      expect(await serverOf(db)).toBe(port('a'));
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(2_500);
    } finally {
      await c.resume('b');
    }
    // A closed port is passed over at once.
    const closed = await freePort([port('a'), port('b')]);
    const db = database({
      url: `postgres://postgres@127.0.0.1:${closed},127.0.0.1:${port('a')}/${c.database}`,
      connectTimeout: 5_000,
    });
    const started = performance.now();
    expect(await serverOf(db)).toBe(port('a'));
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('when no host matches, the ConnectionError names every host tried and why, never the password', async () => {
    const closed = await freePort([port('a'), port('b')]);
    const db = database({
      url: `postgres://postgres:s3cret-pw@127.0.0.1:${port('b')},127.0.0.1:${closed}/${c.database}?target_session_attrs=read-write`,
      pool: { createAttempts: 1 },
    });
    const err = (await rejectionOf(db.query('select 1', [], { timeout: 10_000 }))) as Error;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain(
      `No PostgreSQL server of 127.0.0.1:${port('b')},127.0.0.1:${closed}/${c.database} matched target_session_attrs=read-write`,
    );
    expect(err.message).toContain(`127.0.0.1:${port('b')}/${c.database} is in hot standby (read-only)`);
    expect(err.message).toContain(`ECONNREFUSED 127.0.0.1:${closed}`);
    expect(err.message).not.toContain('s3cret');
  });

  it('a primary fenced read-only under a read-write pool: the write fails with ConnectionError (cause 25006), the connection is dropped, the next write lands on the new primary', async () => {
    const table = uniqueName('fence');
    await withPgClient(c.url('a'), (client) => client.query(`create table ${table} (id int)`));
    await c.waitCaughtUp('b');
    // A pooled connection, and a pipelined one (the default path of standalone statements).
    const db = database({
      url: hosts(['a', 'b'], 'target_session_attrs=read-write'),
      pool: { max: 1 },
      pipeline: false,
    });
    const piped = database({
      url: hosts(['a', 'b'], 'target_session_attrs=read-write'),
      pipeline: { connections: 1 },
    });
    await db.query(`insert into ${table} values (1)`, [], { timeout: 5_000 });
    await piped.query(`insert into ${table} values (2)`);
    expect(await serverOf(db, { timeout: 5_000 })).toBe(port('a'));
    // The old primary fenced (a common failover step), the standby promoted.
    await withPgClient(c.url('a'), async (client) => {
      await client.query('alter system set default_transaction_read_only = on');
      await client.query('select pg_reload_conf()');
    });
    try {
      await c.promote('b');
      for (const [d, opts] of [
        [db, { timeout: 5_000 }],
        [piped, { timeout: 5_000 }],
      ] as const) {
        const destroyed = d.stats().pool.destroyed;
        const statements = d.stats().pipeline.statements;
        const err = (await rejectionOf(d.query(`insert into ${table} values (3)`, [], opts))) as Error;
        expect(err).toBeInstanceOf(ConnectionError);
        expect(err.message).toContain(
          `PostgreSQL at 127.0.0.1:${port('a')}/${c.database} refused a write as read-only (25006)`,
        );
        expect((err.cause as DatabaseError).code).toBe('25006');
        if (d === db) expect(d.stats().pool.destroyed).toBe(destroyed + 1);
        else {
          // Written to the pipelined connection, which was dropped: the next statement opens another.
          expect(d.stats().pipeline).toMatchObject({ statements: statements + 1, connections: 0 });
        }
        await d.query(`insert into ${table} values (4)`, [], opts);
        expect(await serverOf(d, opts)).toBe(port('b'));
      }
    } finally {
      await withPgClient(c.url('a'), async (client) => {
        await client.query('set default_transaction_read_only = off');
        await client.query('alter system reset default_transaction_read_only');
        await client.query('select pg_reload_conf()');
      });
    }
  });

  it('a READ ONLY transaction that writes on the read-write primary gets DatabaseError 25006 and keeps its connection', async () => {
    const db = database({ url: hosts(['b', 'a'], 'target_session_attrs=read-write'), pool: { max: 1 } });
    const table = uniqueName('ro');
    await db.query(`create table ${table} (id int)`, [], { timeout: 5_000 });
    const writing = db.transaction((tx) => tx.query(`insert into ${table} values (1)`), { readOnly: true });
    await expect(writing).rejects.toBeInstanceOf(DatabaseError);
    await expect(
      db.transaction((tx) => tx.query(`insert into ${table} values (1)`), { readOnly: true }),
    ).rejects.toMatchObject({ code: '25006' });
    expect(db.stats().pool.destroyed).toBe(0);
    expect(db.stats().pool.created).toBe(1);
  });

  it('listen() on a multi-host URL follows a failover: the subscription reconnects to the promoted standby', async () => {
    const db = database({ url: hosts(['a', 'b'], 'target_session_attrs=read-write'), connectTimeout: 1_000 });
    const channel = uniqueName('chan');
    const sub = await db.listen(channel, {
      reconnect: { initialDelay: 50, maxDelay: 200 },
      heartbeat: 1_000,
    });
    const received: string[] = [];
    const reading = (async () => {
      for await (const n of sub) received.push(n.payload);
    })();
    try {
      await db.notify(channel, 'before', { timeout: 5_000 });
      await until(() => received.includes('before'), 5_000, 'the notification before the failover');
      await c.stop('a');
      await c.promote('b');
      await until(() => sub.reconnects >= 1, 15_000, 'the subscription to reconnect');
      await db.notify(channel, 'after', { timeout: 5_000 });
      await until(() => received.includes('after'), 5_000, 'the notification sent on the new primary');
    } finally {
      await sub.close();
      await reading;
    }
  });

  it('a COMMIT whose connection is lost on the way is reported in doubt (CommitInDoubtError), not as a plain failure', async () => {
    const table = uniqueName('doubt');
    const db = database({ url: hosts(['a', 'b'], 'target_session_attrs=read-write'), pool: { max: 1 } });
    await db.query(`create table ${table} (id int)`, [], { timeout: 5_000 });
    // A deferred constraint trigger runs inside COMMIT: it stalls the COMMIT while a is stopped.
    await db.query(
      `create function ${table}_stall() returns trigger language plpgsql as $$ begin perform pg_sleep(2); return null; end $$`,
      [],
      { timeout: 5_000 },
    );
    await db.query(
      `create constraint trigger stall after insert on ${table} deferrable initially deferred for each row execute function ${table}_stall()`,
      [],
      { timeout: 5_000 },
    );
    let bodyDone = false;
    const committing = track(
      db.transaction(async (tx) => {
        await tx.query(`insert into ${table} values (1)`);
        bodyDone = true;
      }),
    );
    const committingOnServer = async () =>
      withPgClient(c.url('a'), async (client) => {
        const { rows } = await client.query(
          `select count(*)::int as n from pg_stat_activity where query = 'commit' and state = 'active'`,
        );
        return (rows[0] as { n: number }).n === 1;
      });
    await until(() => bodyDone, 5_000, 'the transaction body to finish');
    await until(committingOnServer, 5_000, 'the COMMIT to run on the server');
    await c.stop('a');
    const err = await rejectionOf(committing.promise);
    expect(err).toBeInstanceOf(CommitInDoubtError);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(
      /lost during COMMIT: the transaction may or may not have committed/,
    );
  });
});

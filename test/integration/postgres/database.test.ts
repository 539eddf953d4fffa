import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, PoolClosedError, TimeoutError } from '../../../src/errors.js';
import { Database, DatabaseError, NoRowsError, TooManyRowsError } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { rejectionOf, until } from '../../support/async.js';

let schema: { name: string; drop(): Promise<void> };
let url: string;

beforeAll(async () => {
  url = databaseUrl();
  schema = await createTestSchema(url);
  await withPgClient(url, (c) =>
    c.query(
      `create table "${schema.name}".items (id int primary key, name text not null check (name <> ''))`,
    ),
  );
});
afterAll(async () => {
  await schema.drop();
});

function newDb(extra: ConstructorParameters<typeof Database>[0] = {}): Database {
  return new Database({ url, applicationName: uniqueName('db'), pool: { max: 2 }, ...extra });
}

describe('Database.query()', () => {
  it('runs statements with positional values and with SqlQuery objects', async () => {
    await using db = newDb();
    const t = `"${schema.name}".items`;
    const ins = await db.query(`insert into ${t} (id, name) values ($1, $2), ($3, $4)`, [1, 'a', 2, 'b']);
    expect(ins.rowCount).toBe(2);
    expect(ins.command).toBe('INSERT');
    const res = await db.query<{ id: number; name: string }>({
      text: `select id, name from ${t} where id = $1`,
      values: [2],
    });
    expect(res.rows).toEqual([{ id: 2, name: 'b' }]);
    expect(res.fields.map((f) => f.name)).toEqual(['id', 'name']);
  });

  it('rows(), one() and maybeOne() shape the result', async () => {
    await using db = newDb();
    expect(await db.rows<{ n: number }>('select generate_series(1, $1::int) as n', [3])).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ]);
    expect(await db.one<{ n: number }>({ text: 'select $1::int as n', values: [7] })).toEqual({ n: 7 });
    expect(await db.maybeOne('select 1 where false')).toBeNull();
    expect(await db.maybeOne<{ n: number }>('select 5 as n')).toEqual({ n: 5 });
    await expect(db.one('select 1 where false')).rejects.toBeInstanceOf(NoRowsError);
    await expect(db.one('select generate_series(1, 2)')).rejects.toMatchObject({
      code: 'TOO_MANY_ROWS',
      rowCount: 2,
    });
    await expect(db.maybeOne('select generate_series(1, 2)')).rejects.toBeInstanceOf(TooManyRowsError);
  });

  it('maps SQL errors to DatabaseError with SQLSTATE and fields, keeping the connection', async () => {
    await using db = newDb({ pool: { max: 1 } });
    const t = `"${schema.name}".items`;
    const pid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    await db.query(`insert into ${t} (id, name) values (100, 'x')`);
    const dup = await rejectionOf(db.query(`insert into ${t} (id, name) values (100, 'y')`));
    expect(dup).toBeInstanceOf(DatabaseError);
    expect(dup).toMatchObject({
      code: '23505',
      severity: 'ERROR',
      constraint: 'items_pkey',
      table: 'items',
      retryable: false,
    });
    expect((dup as DatabaseError).detail).toContain('(id)=(100)');
    await expect(db.query(`insert into ${t} (id, name) values (101, '')`)).rejects.toMatchObject({
      code: '23514',
      constraint: 'items_name_check',
    });
    await expect(db.query('select 1/0')).rejects.toMatchObject({ code: '22012' });
    await expect(db.query('select * from no_such_table_xyz')).rejects.toMatchObject({ code: '42P01' });
    expect((await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid).toBe(pid);
    expect(db.stats().errors).toBe(4);
  });

  it('gives errors a stack that leads back to the caller, not to a socket or timer callback', async () => {
    await using db = newDb();
    await using piped = newDb({ pipeline: { connections: 1 } });
    async function callerOfTheFailingQuery(on: Database, opts?: { timeout: number }): Promise<unknown> {
      return await rejectionOf(on.query('select 1/0', undefined, opts));
    }
    // default path, abortable path (a timeout), pipelined path
    for (const err of [
      await callerOfTheFailingQuery(db),
      await callerOfTheFailingQuery(db, { timeout: 5_000 }),
      await callerOfTheFailingQuery(piped),
    ]) {
      expect(err).toBeInstanceOf(DatabaseError);
      expect((err as Error).stack).toContain('callerOfTheFailingQuery');
    }
    async function callerOfTheSlowQuery(): Promise<unknown> {
      return await rejectionOf(db.query('select pg_sleep(5)', undefined, { timeout: 50 }));
    }
    const timedOut = await callerOfTheSlowQuery();
    expect(timedOut).toBeInstanceOf(TimeoutError);
    expect((timedOut as Error).stack).toContain('callerOfTheSlowQuery');
  });

  it('runs text without values on the simple protocol, so several statements may go in one call', async () => {
    await using db = newDb();
    const res = await db.query('select 1 as a; select 2 as b');
    expect(res).toMatchObject({ rows: [{ b: 2 }], rowCount: 1, command: 'SELECT' }); // the last result
    // In pipeline mode text of several statements is routed to a dedicated connection: same answer.
    await using piped = newDb({ pipeline: { connections: 1 } });
    expect((await piped.query('select 1 as a; select 3 as c')).rows).toEqual([{ c: 3 }]);
  });

  it('rejects bad input with TypeError/RangeError before reaching the server', async () => {
    await using db = newDb();
    expect(() => db.query('select $1', 5 as never)).toThrow(TypeError);
    expect(() => db.query('select $1::int, $2::int', [1, undefined])).toThrow(/\$2 is undefined/);
    expect(() => db.query('select 1', new Array(65_536).fill(0))).toThrow(RangeError);
    expect(() => db.query('select 1', [], { timeout: -5 })).toThrow(RangeError);
    expect(db.stats().queries).toBe(0);
    expect(db.stats().pool.created).toBe(0);
  });

  it('refuses transaction control outside transaction()', async () => {
    await using db = newDb();
    await expect(db.query('begin')).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});

describe('Database options', () => {
  it('sends statementTimeout and applicationName at connect', async () => {
    const app = uniqueName('app');
    await using db = new Database({ url, applicationName: app, statementTimeout: 1234 });
    expect(await db.one('show statement_timeout')).toEqual({ statement_timeout: '1234ms' });
    const seen = await backendsOf(url, app);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    await expect(db.query('select pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
  });
});

describe('Database connection failures', () => {
  it('fails within the acquire timeout with ConnectionError for an unreachable host, never echoing the password', async () => {
    await using db = new Database({
      url: 'postgres://someone:hunter2secret@127.0.0.1:1/test',
      pool: { acquireTimeout: 3_000 },
      connectTimeout: 1_000,
    });
    const started = performance.now();
    const err = await rejectionOf(db.query('select 1'));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(String((err as Error).message)).not.toContain('hunter2secret');
    expect(String((err as Error).message)).toContain('127.0.0.1:1');
  });

  it('reports an unknown role as ConnectionError without the password (server is trust auth: a wrong password cannot be tested)', async () => {
    await using db = new Database({
      url: url.replace('postgres://postgres', 'postgres://no_such_role_x:pw_s3cr3t'),
      pool: { acquireTimeout: 3_000 },
    });
    const err = await rejectionOf(db.query('select 1'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/no_such_role_x/);
    expect((err as Error).message).not.toContain('pw_s3cr3t');
  });
});

describe('Database.ping(), stats(), close()', () => {
  it('pings, counts, and closes idempotently with await using', async () => {
    const app = uniqueName('close');
    let outer: Database;
    {
      await using db = new Database({ url, applicationName: app });
      outer = db;
      await db.ping();
      await db.query('select 1');
      const s = db.stats();
      expect(s.queries).toBe(2);
      // One caller at a time: one pipelined connection, no pooled one.
      expect(s.pipeline).toMatchObject({ connections: 1, statements: 2 });
      expect(s.pool.created).toBe(0);
      expect((await backendsOf(url, app)).length).toBe(1);
    }
    // Polled: the server drops a closed session from pg_stat_activity a moment after the socket ends.
    await until(async () => (await backendsOf(url, app)).length === 0, 10_000, 'the session gone');
    await outer.close();
    await outer.close({ timeout: 10 });
    await expect(outer.query('select 1')).rejects.toBeInstanceOf(PoolClosedError);
  });

  it('close({ timeout }) gives up on lent connections and leaves no statement running on the server', async () => {
    const app = uniqueName('close_busy');
    const db = new Database({ url, applicationName: app });
    const busy = expect(db.query('select pg_sleep(30)')).rejects.toBeInstanceOf(Error);
    await until(
      async () => (await backendsOf(url, app)).some((r) => r.state === 'active'),
      10_000,
      'the query to run',
    );
    await db.close({ timeout: 200 });
    await busy;
    await until(async () => (await backendsOf(url, app)).length === 0, 10_000, 'no backend left');
  });
});

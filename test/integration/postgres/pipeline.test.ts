import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import {
  ConnectionError,
  Database,
  DatabaseError,
  type DatabaseOptions,
  type PipelineOptions,
} from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { rejectionOf, track, until } from '../../support/async.js';

function pipelined(app: string, pipeline: PipelineOptions = {}, extra: DatabaseOptions = {}): Database {
  return new Database({ url: databaseUrl(), applicationName: app, pipeline, pool: { max: 2 }, ...extra });
}

const pidOf = async (db: Database): Promise<number> =>
  (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;

const running = (app: string, text: string) =>
  backendsOf(databaseUrl(), app).then((rows) =>
    rows.filter((r) => r.state === 'active' && r.query.includes(text)),
  );

let schema: Awaited<ReturnType<typeof createTestSchema>>;
beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  await withPgClient(databaseUrl(), (c) =>
    c.query(`create table "${schema.name}".moved (id int); create table "${schema.name}".shape (a int)`),
  );
});
afterAll(() => schema.drop());

describe('Database.query() in pipeline mode', () => {
  it('pipelines standalone statements by default (new Database({ url })), and not with pipeline: false', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('pipe_default') });
    // One at a time: nothing in flight when the next is routed, so no guard can send one elsewhere.
    for (let i = 0; i < 20; i++) expect(await db.one('select $1::int as n', [i])).toEqual({ n: i });
    expect(db.stats().pipeline).toMatchObject({ statements: 20, overflowed: 0 });
    expect(db.stats().pool.created).toBe(0);

    await using off = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('pipe_off'),
      pipeline: false,
    });
    for (let i = 0; i < 20; i++) expect(await off.one('select $1::int as n', [i])).toEqual({ n: i });
    expect(off.stats().pipeline).toMatchObject({ connections: 0, statements: 0 });
    expect(off.stats().pool.created).toBe(1);
  });

  it('multiplexes many concurrent queries over the shared connections, each getting its own result', async () => {
    const app = uniqueName('pipe');
    await using db = pipelined(app, { connections: 2, maxDepth: 1_000, stallAfter: Infinity });
    const n = 500;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        db.one<{ v: number; pid: number }>('select $1::int as v, pg_backend_pid() as pid', [i]),
      ),
    );
    expect(results.map((r) => r.v)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(new Set(results.map((r) => r.pid)).size).toBe(2);
    expect(db.stats().pool.created).toBe(0);
    expect(db.stats().pipeline).toMatchObject({ connections: 2, statements: n });
    expect((await backendsOf(databaseUrl(), app)).length).toBe(2);
  });

  it('keeps one caller at a time on one warm backend instead of alternating between connections', async () => {
    await using db = pipelined(uniqueName('pipe'), { connections: 2 });
    // Both connections up: a burst opens the second while the first is busy.
    await until(
      async () => {
        await Promise.all(Array.from({ length: 50 }, () => db.query('select 1')));
        return db.stats().pipeline.connections === 2;
      },
      10_000,
      'both pipelined connections',
    );
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) pids.add(await pidOf(db));
    expect(pids.size).toBe(1);
  });

  it('fails only the query that errors; its neighbours succeed', async () => {
    await using db = pipelined(uniqueName('pipe_err'), { connections: 1 });
    const settled = await Promise.allSettled([
      db.one('select 1 as n'),
      db.one('select 1/0 as n'),
      db.one('select 3 as n'),
      db.one('select * from no_such_table_pipe'),
      db.one('select 5 as n'),
    ]);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: '22012' });
    expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseError);
    expect(
      settled
        .filter((s) => s.status === 'fulfilled')
        .map((s) => (s as PromiseFulfilledResult<unknown>).value),
    ).toEqual([{ n: 1 }, { n: 3 }, { n: 5 }]);
  });

  it('routes statements that change session state to a dedicated connection, and refuses BEGIN', async () => {
    // No stall guard here: on a busy machine a head past 10 ms would send the reads below to the pool —
    // onto the very connection the SET changed (as with any pool) — and this test is about routing.
    await using db = pipelined(uniqueName('pipe_set'), { connections: 1, stallAfter: 600_000 });
    await db.query('select 1');
    expect(db.stats().pool.created).toBe(0);
    await db.query("set work_mem = '7MB'");
    expect(db.stats().pool.created).toBe(1);
    const shared = await Promise.all(Array.from({ length: 10 }, () => db.one('show work_mem')));
    expect(shared.every((r) => (r as { work_mem: string }).work_mem !== '7MB')).toBe(true);
    expect(db.stats().pipeline).toMatchObject({ statements: 11, overflowed: 0 }); // the reads were pipelined
    await expect(db.query('begin')).rejects.toThrow(/refuses transaction control.*db\.transaction/);
    await expect(db.query('BEGIN')).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('sends no new statement to a connection whose head has run past stallAfter: they go to the pool', async () => {
    await using db = pipelined(uniqueName('pipe_hol'), { connections: 1, stallAfter: 50 });
    const pipePid = await pidOf(db);
    // 6 s: the stall must outlast the poll that sees it plus five connects of the pool, which take
    // seconds on a busy machine (at 2 s the head could finish first: no longer stalled, not pending).
    const slow = track(db.one<{ pid: number }>('select pg_backend_pid() as pid from pg_sleep(6)'));
    await until(() => db.stats().pipeline.stalled === 1, 5_000, 'the slow statement to stall its connection');
    const fast = await Promise.all(Array.from({ length: 5 }, () => pidOf(db)));
    expect(fast.every((pid) => pid !== pipePid)).toBe(true);
    expect(slow.status).toBe('pending');
    expect(db.stats().pipeline.overflowed).toBe(5);
    // Alone on its connection, it held nobody up: it ran there to the end, not moved.
    expect((await slow.promise).pid).toBe(pipePid);
    expect(db.stats().pipeline).toMatchObject({ moved: 0, stalled: 0 });
  });

  it('moves a stalled head out of the way of the statements written behind it: they finish, it runs once elsewhere', async () => {
    const app = uniqueName('pipe_move');
    await using db = pipelined(app, { connections: 1, stallAfter: 50 });
    const pipePid = await pidOf(db);
    // 3 s (was 1): on a busy machine the client could take over a second to read the five answers
    // behind the moved head, which then had finished its restart and was no longer pending. Not
    // moved, the head would hold them 3 s and finish first: still caught below.
    const insert = `insert into "${schema.name}".moved (id) select $1 from pg_sleep(3) returning pg_backend_pid() as pid`;
    const slow = track(db.one<{ pid: number }>(insert, [1]));
    const behind = Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        db.one<{ n: number; pid: number }>('select $1::int as n, pg_backend_pid() as pid', [i]),
      ),
    );
    const rows = await behind;
    expect(rows.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    // They ran on the pipe behind the moved head — but for at most one: PostgreSQL 15 signals a
    // CancelRequest twice, and a second signal that lands after the head stopped fails the statement
    // then running, which had no effect and is re-sent on a dedicated connection (CancelLedger).
    const offPipe = rows.filter((r) => r.pid !== pipePid).length;
    expect(offPipe).toBeLessThanOrEqual(1);
    expect(slow.status).toBe('pending'); // its 3 s sleep started over on a dedicated connection
    expect((await slow.promise).pid).not.toBe(pipePid);
    expect(db.stats().pipeline).toMatchObject({ moved: 1, resent: 1 + offPipe });
    // The next statement with the same text skips the pipeline at once.
    expect((await db.one<{ pid: number }>(insert, [2])).pid).not.toBe(pipePid);
    expect(db.stats().pipeline).toMatchObject({ moved: 1, slowRouted: 1 });
    const counts = await withPgClient(databaseUrl(), (c) =>
      c.query<{ id: number; n: number }>(
        `select id, count(*)::int as n from "${schema.name}".moved group by id order by id`,
      ),
    );
    expect(counts.rows).toEqual([
      { id: 1, n: 1 },
      { id: 2, n: 1 },
    ]);
    expect(await running(app, 'pg_sleep')).toEqual([]);
  });

  it('keeps at most maxDepth statements in flight on a pipelined connection; the rest go to the pool', async () => {
    await using db = pipelined(
      uniqueName('pipe_depth'),
      { connections: 1, maxDepth: 3, stallAfter: Infinity },
      { pool: { max: 8 } },
    );
    const pipePid = await pidOf(db);
    const pids = await Promise.all(
      Array.from(
        { length: 10 },
        async () => (await db.one<{ pid: number }>('select pg_backend_pid() as pid from pg_sleep(0.2)')).pid,
      ),
    );
    expect(pids.filter((pid) => pid === pipePid)).toHaveLength(3);
    expect(db.stats().pipeline).toMatchObject({ overflowed: 7, statements: 4 });
  });

  it('enforces queryTimeout on pipelined queries, failing only the slow one (the one behind it is not held up)', async () => {
    const app = uniqueName('pipe_qt');
    await using db = pipelined(app, { connections: 1 }, { queryTimeout: 300 });
    const [slow, fast] = await Promise.allSettled([db.query('select pg_sleep(5)'), db.one('select 42 as n')]);
    expect(slow.status).toBe('rejected');
    expect((slow as PromiseRejectedResult).reason).toBeInstanceOf(TimeoutError);
    expect(fast).toEqual({ status: 'fulfilled', value: { n: 42 } });
    await until(async () => (await running(app, 'pg_sleep')).length === 0, 10_000, 'the slow one cancelled');
  });

  it('a dead pipelined connection fails only its in-flight queries and is replaced', async () => {
    const url = databaseUrl();
    const app = uniqueName('pipe_kill');
    // stallAfter Infinity: the sleeping statements stay where they were written.
    await using db = pipelined(app, { connections: 2, stallAfter: Infinity });
    const pids = new Set(await Promise.all(Array.from({ length: 8 }, () => pidOf(db))));
    expect(pids.size).toBe(2);
    const [victim, survivor] = [...pids] as [number, number];
    const batch = Promise.allSettled(
      Array.from({ length: 6 }, () =>
        db.one<{ pid: number }>('select pg_backend_pid() as pid, pg_sleep(0.8)'),
      ),
    );
    await until(
      async () => (await backendsOf(url, app)).filter((r) => r.state === 'active').length === 2,
      10_000,
      'both to run',
    );
    await withPgClient(url, (c) => c.query('select pg_terminate_backend($1)', [victim]));
    const results = await batch;
    const ok = results.filter((r): r is PromiseFulfilledResult<{ pid: number }> => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(3);
    expect(failed).toHaveLength(3);
    expect(ok.every((r) => r.value.pid === survivor)).toBe(true);
    expect(failed.every((r) => r.reason instanceof ConnectionError)).toBe(true);
    const after = await Promise.all(Array.from({ length: 8 }, () => pidOf(db)));
    expect(after.some((pid) => pid === victim)).toBe(false);
    await until(async () => db.stats().pipeline.connections === 2, 10_000, 'the replacement');
  });

  it('runs statements with parameters as prepared statements, and prepares them afresh after a schema change', async () => {
    const app = uniqueName('pipe_prep');
    await using db = pipelined(app, { connections: 1 });
    const text = `select * from "${schema.name}".shape where a = $1 or $1 is null`;
    await withPgClient(databaseUrl(), (c) => c.query(`insert into "${schema.name}".shape values (1)`));
    for (let i = 0; i < 3; i++) expect(await db.rows(text, [1])).toEqual([{ a: 1 }]);
    // `select *` now has another column: the prepared statement's result type no longer fits.
    await withPgClient(databaseUrl(), (c) => c.query(`alter table "${schema.name}".shape add column b int`));
    expect(await db.rows(text, [1])).toEqual([{ a: 1, b: null }]);
    expect(await db.rows(text, [1])).toEqual([{ a: 1, b: null }]);
    // Re-sent once: an unnamed statement would not have failed, so it ran prepared.
    expect(db.stats().pipeline.resent).toBe(1);
  });

  it('fails every statement of a burst with the same text as its own error when the text does not parse', async () => {
    await using db = pipelined(uniqueName('pipe_parse'), { connections: 1 });
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => db.query('selec $1::int', [i])),
    );
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect((s as PromiseRejectedResult).reason).toMatchObject({ code: '42601' });
    }
    expect(await db.one('select $1::int as n', [5])).toEqual({ n: 5 });
  });

  it('fails with ConnectionError (no password) when the server is unreachable, and backs off', async () => {
    await using db = new Database({ url: 'postgres://u:pw_pipe_secret@127.0.0.1:1/test' });
    const errors = await Promise.all(Array.from({ length: 5 }, () => rejectionOf(db.query('select 1'))));
    const again = await rejectionOf(db.query('select 1'));
    for (const err of [...errors, again]) {
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).not.toContain('pw_pipe_secret');
    }
  });
});

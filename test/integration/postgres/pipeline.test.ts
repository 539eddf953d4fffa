import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { ConnectionError, Database, DatabaseError } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { rejectionOf, until } from '../../support/async.js';

function pipelined(
  app: string,
  connections = 2,
  extra: ConstructorParameters<typeof Database>[0] = {},
): Database {
  return new Database({
    url: databaseUrl(),
    applicationName: app,
    pipeline: { connections },
    pool: { max: 2 },
    ...extra,
  });
}

describe('Database.query() in pipeline mode', () => {
  it('multiplexes many concurrent queries over the shared connections, each getting its own result', async () => {
    const app = uniqueName('pipe');
    await using db = pipelined(app, 2);
    const n = 500;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        db.one<{ v: number; pid: number }>('select $1::int as v, pg_backend_pid() as pid', [i]),
      ),
    );
    expect(results.map((r) => r.v)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(new Set(results.map((r) => r.pid)).size).toBe(2);
    expect(db.stats().pool.created).toBe(0);
    expect(db.stats().pipeline.connections).toBe(2);
    expect((await backendsOf(databaseUrl(), app)).length).toBe(2);
  });

  it('keeps one caller at a time on one warm backend instead of alternating between connections', async () => {
    await using db = pipelined(uniqueName('pipe'), 2);
    await Promise.all(Array.from({ length: 50 }, () => db.query('select 1'))); // both connections up
    expect(db.stats().pipeline.connections).toBe(2);
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++)
      pids.add((await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid);
    expect(pids.size).toBe(1);
  });

  it('fails only the query that errors; its neighbours succeed', async () => {
    await using db = pipelined(uniqueName('pipe_err'), 1);
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

  it('routes statements that change session state to a dedicated connection', async () => {
    await using db = pipelined(uniqueName('pipe_set'), 1);
    await db.query('select 1');
    expect(db.stats().pool.created).toBe(0);
    await db.query("set work_mem = '7MB'");
    expect(db.stats().pool.created).toBe(1);
    const shared = await Promise.all(Array.from({ length: 10 }, () => db.one('show work_mem')));
    expect(shared.every((r) => (r as { work_mem: string }).work_mem !== '7MB')).toBe(true);
    await expect(db.query('begin')).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('cancelling an abortable query never cancels its pipelined neighbours', async () => {
    const url = databaseUrl();
    const app = uniqueName('pipe_cancel');
    await using db = pipelined(app, 1);
    const pipePid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    // Neighbours queued on the single pipelined connection behind a slow one.
    const neighbours = Promise.all([
      db.one<{ a: string }>("select 'a' as a, pg_sleep(0.6)"),
      db.one<{ b: number }>('select $1::int as b', [2]),
      db.one<{ c: string }>("select 'c' as c, pg_sleep(0.2)"),
    ]);
    const ac = new AbortController();
    const victim = expect(
      db.query('select pg_backend_pid() as pid, pg_sleep(30)', [], { signal: ac.signal }),
    ).rejects.toMatchObject({ message: 'cancel the victim' });
    await until(
      async () =>
        (await backendsOf(url, app)).some((r) => r.state === 'active' && r.query.includes('pg_sleep(30)')),
      10_000,
      'the victim to run',
    );
    const victimPid = (await backendsOf(url, app)).find((r) => r.query.includes('pg_sleep(30)'))!.pid;
    expect(victimPid).not.toBe(pipePid);
    ac.abort(new Error('cancel the victim'));
    await victim;
    const [a, b, c] = await neighbours;
    expect([a.a, b.b, c.c]).toEqual(['a', 2, 'c']);
    await until(
      async () =>
        !(await backendsOf(url, app)).some((r) => r.state === 'active' && r.query.includes('pg_sleep(30)')),
      10_000,
      'the victim to be cancelled on the server',
    );
    expect(db.stats().cancellations).toBe(1);
  });

  it('enforces queryTimeout on pipelined queries through the server, failing only the slow one', async () => {
    await using db = pipelined(uniqueName('pipe_qt'), 1, { queryTimeout: 300 });
    const [slow, fast] = await Promise.allSettled([db.query('select pg_sleep(5)'), db.one('select 42 as n')]);
    expect(slow.status).toBe('rejected');
    expect((slow as PromiseRejectedResult).reason).toBeInstanceOf(TimeoutError);
    expect(fast).toEqual({ status: 'fulfilled', value: { n: 42 } });
  });

  it('a dead pipelined connection fails only its in-flight queries and is replaced', async () => {
    const url = databaseUrl();
    const app = uniqueName('pipe_kill');
    await using db = pipelined(app, 2);
    const pids = new Set(
      (
        await Promise.all(
          Array.from({ length: 8 }, () => db.one<{ pid: number }>('select pg_backend_pid() as pid')),
        )
      ).map((r) => r.pid),
    );
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
    expect(ok.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(ok.every((r) => r.value.pid === survivor)).toBe(true);
    expect(failed.every((r) => r.reason instanceof ConnectionError)).toBe(true);
    const after = await Promise.all(
      Array.from({ length: 8 }, () => db.one<{ pid: number }>('select pg_backend_pid() as pid')),
    );
    expect(after.some((r) => r.pid === victim)).toBe(false);
    await until(async () => db.stats().pipeline.connections === 2, 10_000, 'the replacement');
  });

  it('fails with ConnectionError (no password) when the server is unreachable, and backs off', async () => {
    await using db = new Database({
      url: 'postgres://u:pw_pipe_secret@127.0.0.1:1/test',
      pipeline: { connections: 2 },
    });
    const errors = await Promise.all(Array.from({ length: 5 }, () => rejectionOf(db.query('select 1'))));
    const again = await rejectionOf(db.query('select 1'));
    for (const err of [...errors, again]) {
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).not.toContain('pw_pipe_secret');
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { Database, DatabaseError } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { deferred, rejectionOf, until } from '../../support/async.js';

let schema: { name: string; drop(): Promise<void> };
let url: string;
let t: string;

beforeAll(async () => {
  url = databaseUrl();
  schema = await createTestSchema(url);
  t = `"${schema.name}".acc`;
  await withPgClient(url, (c) => c.query(`create table ${t} (id int primary key, n int not null)`));
});
afterAll(async () => {
  await schema.drop();
});

async function count(where: string): Promise<number> {
  return withPgClient(url, async (c) =>
    Number((await c.query(`select count(*) as n from ${t} where ${where}`)).rows[0].n),
  );
}

const newDb = (max = 2) => new Database({ url, applicationName: uniqueName('tx'), pool: { max } });

describe('Database.transaction()', () => {
  it('commits when fn resolves and returns its value', async () => {
    await using db = newDb();
    const v = await db.transaction(async (tx) => {
      await tx.query(`insert into ${t} values (1, 10)`);
      return (await tx.one<{ n: number }>(`select n from ${t} where id = $1`, [1])).n;
    });
    expect(v).toBe(10);
    expect(await count('id = 1')).toBe(1);
    expect(db.stats().commits).toBe(1);
  });

  it('rolls back when fn throws, and rethrows', async () => {
    await using db = newDb();
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`insert into ${t} values (2, 20)`);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await count('id = 2')).toBe(0);
    expect(db.stats().rollbacks).toBe(1);
  });

  it('rolls back on abort, cancelling the running statement, and keeps the connection', async () => {
    const app = uniqueName('tx');
    await using db = new Database({ url, applicationName: app, pool: { max: 1 } });
    const pid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    const ac = new AbortController();
    const reason = new Error('stop');
    const p = rejectionOf(
      db.transaction(
        async (tx) => {
          await tx.query(`insert into ${t} values (3, 30)`);
          await tx.query('select pg_sleep(30)');
        },
        { signal: ac.signal },
      ),
    );
    // Aborted once the statement runs on the server (a 100 ms timer could fire, on a busy machine,
    // before it was sent: no statement to cancel).
    await until(
      async () =>
        (await backendsOf(url, app)).some((b) => b.state === 'active' && b.query === 'select pg_sleep(30)'),
      10_000,
      'pg_sleep to run',
    );
    ac.abort(reason);
    expect(await p).toBe(reason);
    expect(await count('id = 3')).toBe(0);
    expect((await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid).toBe(pid);
  });

  it('rolls back on timeout with TimeoutError', async () => {
    await using db = newDb(1);
    const err = await rejectionOf(
      db.transaction(
        async (tx) => {
          await tx.query(`insert into ${t} values (4, 40)`);
          await tx.query('select pg_sleep(30)');
        },
        { timeout: 300 },
      ),
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect(await count('id = 4')).toBe(0);
    expect(await db.one('select 1 as ok')).toEqual({ ok: 1 });
  });

  it('rejects at once on abort even when fn waits on something else, and refuses its later queries', async () => {
    await using db = newDb(1);
    const ac = new AbortController();
    // Asserted now, so the late query's rejection is handled whenever it comes.
    const lateQuery = deferred<unknown>();
    const lateRefused = expect(lateQuery.promise).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const p = db.transaction(
      async (tx) => {
        await tx.query(`insert into ${t} values (5, 50)`);
        // Abort only once the insert is done (under load it could otherwise land before it), while
        // fn is busy waiting on something that is not a query.
        setTimeout(() => ac.abort(new Error('gone')), 50);
        await new Promise((r) => setTimeout(r, 300));
        lateQuery.resolve(tx.query('select 1')); // adopts the query's outcome
      },
      { signal: ac.signal },
    );
    await expect(p).rejects.toThrow('gone');
    await lateRefused;
    expect(await count('id = 5')).toBe(0);
  });

  it('sets isolation level, read only and deferrable', async () => {
    await using db = newDb();
    const seen = await db.transaction(
      (tx) =>
        tx.one<{ i: string; r: string; d: string }>(
          'select current_setting($1) as i, current_setting($2) as r, current_setting($3) as d',
          ['transaction_isolation', 'transaction_read_only', 'transaction_deferrable'],
        ),
      { isolation: 'serializable', readOnly: true, deferrable: true },
    );
    expect(seen).toEqual({ i: 'serializable', r: 'on', d: 'on' });
    const rr = await db.transaction((tx) => tx.one('show transaction_isolation'), {
      isolation: 'repeatable read',
    });
    expect(rr).toEqual({ transaction_isolation: 'repeatable read' });
    await expect(
      db.transaction((tx) => tx.query(`insert into ${t} values (6, 60)`), { readOnly: true }),
    ).rejects.toMatchObject({ code: '25006' });
  });

  it('nests with savepoints: an inner failure undoes only the inner work', async () => {
    await using db = newDb();
    await db.transaction(async (tx) => {
      await tx.query(`insert into ${t} values (7, 70)`);
      await expect(
        tx.transaction(async (sp) => {
          await sp.query(`insert into ${t} values (8, 80)`);
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
      await tx.transaction(async (sp) => {
        await sp.query(`insert into ${t} values (9, 90)`);
        await sp.transaction((sp2) => sp2.query(`insert into ${t} values (10, 100)`));
      });
    });
    expect(await count('id in (7, 9, 10)')).toBe(3);
    expect(await count('id = 8')).toBe(0);
  });

  it('refuses manual transaction control inside the scope', async () => {
    await using db = newDb();
    await expect(db.transaction((tx) => tx.query('commit'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('re-runs fn on a real serialization failure when retries > 0', async () => {
    await using db = newDb(3);
    await withPgClient(url, (c) => c.query(`insert into ${t} values (20, 0), (21, 0)`));
    // Classic write skew: each reads the sum and writes a different row; one must fail with 40001.
    let runs = 0;
    const gate = deferred();
    let arrived = 0;
    const work = (id: number) =>
      db.transaction(
        async (tx) => {
          runs++;
          const { s } = await tx.one<{ s: number }>(`select sum(n)::int as s from ${t} where id in (20, 21)`);
          if (++arrived === 2) gate.resolve();
          await Promise.race([gate.promise, new Promise((r) => setTimeout(r, 2_000))]);
          await tx.query(`update ${t} set n = $1 where id = $2`, [s + 1, id]);
        },
        { isolation: 'serializable', retries: 3 },
      );
    await Promise.all([work(20), work(21)]);
    // At least one run was retried (SSI may abort both sides of the skew once, hence ≥).
    expect(runs).toBeGreaterThanOrEqual(3);
    const rows = await withPgClient(
      url,
      async (c) => (await c.query<{ n: number }>(`select n from ${t} where id in (20, 21) order by id`)).rows,
    );
    expect(rows.map((r) => r.n).sort()).toEqual([1, 2]);
  });

  it('fails with a retryable DatabaseError when retries is 0', async () => {
    await using db = newDb(3);
    await withPgClient(url, (c) => c.query(`insert into ${t} values (30, 0), (31, 0)`));
    const gate = deferred();
    let arrived = 0;
    const work = (id: number) =>
      db.transaction(
        async (tx) => {
          const { s } = await tx.one<{ s: number }>(`select sum(n)::int as s from ${t} where id in (30, 31)`);
          if (++arrived === 2) gate.resolve();
          await gate.promise;
          await tx.query(`update ${t} set n = $1 where id = $2`, [s + 1, id]);
        },
        { isolation: 'serializable' },
      );
    const results = await Promise.allSettled([work(30), work(31)]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    const err = (failed[0] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(DatabaseError);
    expect(err).toMatchObject({ code: '40001', retryable: true });
  });
});

describe('Database.withClient()', () => {
  it('never returns a connection left inside a transaction to the pool dirty', async () => {
    const app = uniqueName('dirty');
    await using db = new Database({ url, applicationName: app, pool: { max: 1 } });
    await db.withClient(async (c) => {
      await c.query('begin');
      await c.query(`insert into ${t} values (40, 400)`);
    });
    expect(await db.one('select 1 as ok')).toEqual({ ok: 1 });
    // The insert was rolled back; the next user is not inside a transaction.
    expect(await count('id = 40')).toBe(0);
    await db.withClient(async (c) => {
      expect((await c.query('select now() = statement_timestamp() as fresh')).rows[0].fresh).toBe(true);
    });
    const rows = await backendsOf(url, app);
    expect(rows.every((r) => r.state === 'idle')).toBe(true);
  });

  it('cancels the running statement on timeout and aborts the signal given to fn', async () => {
    await using db = newDb(1);
    let seen: AbortSignal | undefined;
    const err = await rejectionOf(
      db.withClient(
        async (c, signal) => {
          seen = signal;
          await c.query('select pg_sleep(30)');
        },
        { timeout: 200 },
      ),
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(await db.one('select 1 as ok', [], { timeout: 5_000 })).toEqual({ ok: 1 });
  });

  it('does not lend a client to the next borrower while an aborted fn still uses it', async () => {
    await using db = newDb(1);
    const log: string[] = [];
    const ac = new AbortController();
    const started = deferred();
    const first = expect(
      db.withClient(
        async (c) => {
          started.resolve();
          await new Promise((r) => setTimeout(r, 300)); // ignores its signal on purpose
          await c.query('select 1');
          log.push('first done');
        },
        { signal: ac.signal },
      ),
    ).rejects.toMatchObject({ message: 'abandon' });
    // Abort only once fn holds the client (an abort while still acquiring would test nothing).
    await started.promise;
    ac.abort(new Error('abandon'));
    await first;
    await db.withClient(async (c) => {
      log.push('second got the client');
      await c.query('select 1');
    });
    expect(log).toEqual(['first done', 'second got the client']);
  });
});

describe('Transaction.afterCommit()', () => {
  it('runs callbacks once the transaction has committed and its effects are visible', async () => {
    await using db = newDb();
    const seen: number[] = [];
    await db.transaction(async (tx) => {
      await tx.query(`insert into ${t} values (900, 1)`);
      tx.afterCommit(() => {
        seen.push(-1); // ran synchronously after commit; the row must be visible to others by now
      });
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual([-1]);
    expect(await count('id = 900')).toBe(1);
  });

  it('never runs them when the transaction rolls back', async () => {
    await using db = newDb();
    let ran = false;
    await expect(
      db.transaction(async (tx) => {
        tx.afterCommit(() => (ran = true));
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(ran).toBe(false);
  });

  it('drops what a rolled-back savepoint registered and keeps the rest', async () => {
    await using db = newDb();
    const ran: string[] = [];
    await db.transaction(async (tx) => {
      tx.afterCommit(() => ran.push('outer'));
      await tx
        .transaction(async (sp) => {
          sp.afterCommit(() => ran.push('inner rolled back'));
          throw new Error('undo savepoint');
        })
        .catch(() => undefined);
      await tx.transaction(async (sp) => sp.afterCommit(() => ran.push('inner kept')));
    });
    expect(ran).toEqual(['outer', 'inner kept']);
  });

  it('refuses registration once the transaction is over, and non-functions', async () => {
    await using db = newDb();
    let leaked: { afterCommit(cb: () => void): void } | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
      expect(() => tx.afterCommit('nope' as never)).toThrow(TypeError);
    });
    expect(() => leaked!.afterCommit(() => undefined)).toThrow(/too late/);
  });
});

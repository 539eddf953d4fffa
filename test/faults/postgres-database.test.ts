import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { ConnectionError, Database } from '../../adapters/postgres/index.js';
import { uniqueName } from '../support/names.js';
import { ChaosProxy } from '../support/proxy.js';
import { databaseUrl } from '../support/services.js';
import { rejectionOf, until } from '../support/async.js';
import { backendsOf } from '../support/pg.js';

const sleeping = (app: string, text: string) =>
  backendsOf(databaseUrl(), app).then((rows) =>
    rows.filter((r) => r.state === 'active' && r.query === `select ${text}`),
  );

let proxy: ChaosProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('Database faults', () => {
  it('times out a query on a silently dead peer, then recovers on a fresh connection', async () => {
    proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    await using db = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName: uniqueName('stall'),
      pool: { max: 1 },
    });
    await db.query('select 1');
    proxy.stall(true);
    const started = performance.now();
    const err = await rejectionOf(db.query('select 2 as n', [], { timeout: 300 }));
    expect(err).toBeInstanceOf(TimeoutError);
    // A hang guard, not a speed check (a busy machine runs late): behind a stalled peer nothing
    // but the statement's own timeout answers it before the test's 60 s.
    expect(performance.now() - started).toBeLessThan(10_000);
    proxy.cutAll();
    proxy.stall(false);
    expect(await db.one('select 3 as n', [], { timeout: 15_000 })).toEqual({ n: 3 });
  });

  it('fails in-flight queries with ConnectionError when connections are cut, and reconnects', async () => {
    proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    const app = uniqueName('cut');
    await using db = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName: app,
      pool: { max: 2 },
    });
    await db.query('select 1');
    const busy = expect(db.query('select pg_sleep(5)')).rejects.toBeInstanceOf(ConnectionError);
    // Cut once it runs on the server (after a 200 ms sleep it might, on a busy machine, not have
    // been sent yet: the cut would then hit an idle connection and the query succeed on a new one).
    await until(async () => (await sleeping(app, 'pg_sleep(5)')).length === 1, 10_000, 'pg_sleep to run');
    expect(proxy.cutAll()).toBeGreaterThan(0);
    await busy;
    expect(await db.one('select 4 as n')).toEqual({ n: 4 });
  });

  it('fails pipelined queries on a cut connection with ConnectionError and replaces the connection', async () => {
    proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    const app = uniqueName('pcut');
    await using db = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName: app,
      // stallAfter Infinity: the sleeping head is not moved off the connection before the cut.
      pipeline: { connections: 1, stallAfter: Infinity },
    });
    await db.query('select 1');
    const inflight = Promise.allSettled([db.query('select pg_sleep(5)'), db.query('select 5')]);
    // Cut once both are written and the head runs on the server (a 200 ms sleep could end, on a
    // busy machine, before they were sent — or, at 2 s of pg_sleep, after both had answered).
    await until(
      async () => db.stats().pipeline.statements === 3 && (await sleeping(app, 'pg_sleep(5)')).length === 1,
      10_000,
      'both statements sent, the head running',
    );
    expect(proxy.cutAll()).toBeGreaterThan(0);
    const results = await inflight;
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof ConnectionError)).toBe(true);
    expect(await db.one('select 6 as n')).toEqual({ n: 6 });
  });

  it('refused connections fail acquire with ConnectionError within the acquire timeout', async () => {
    proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    proxy.refuse(true);
    await using db = new Database({ url: proxy.rewrite(databaseUrl()), pool: { acquireTimeout: 3_000 } });
    const err = await rejectionOf(db.query('select 1'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/Cannot connect to PostgreSQL|Connection refused by/);
  });
});

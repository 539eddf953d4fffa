/**
 * The PostgreSQL adapter's OpenTelemetry metrics on the real server, read with an in-memory reader:
 * `db.client.operation.duration` per statement with the conventions' attributes (the verb, never the
 * text or a value), the pipeline depth, cancellations by outcome, and pool names that stay unique when
 * two Databases (or a primary and its replica) share a URL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../../adapters/postgres/index.js';
import { rejectionOf, until } from '../../support/async.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema, withPgClient } from '../../support/pg.js';
import { installMetrics, pointOf, type Point, type TestMetrics } from '../../support/otel.js';
import { ChaosProxy } from '../../support/proxy.js';
import { databaseUrl } from '../../support/services.js';

const url = new URL(databaseUrl());
const SERVER = {
  'db.system.name': 'postgresql',
  'db.namespace': url.pathname.slice(1),
  'server.address': url.hostname,
  'server.port': Number(url.port || 5432),
};
const DURATION = 'db.client.operation.duration';
const CANCELS = 'connkit.postgres.cancellations';
const POOL = 'db.client.connection.pool.name';

let sdk: TestMetrics | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  await sdk?.uninstall();
  sdk = undefined;
});

type Histogram = { count: number; sum: number };
const histogram = (points: Point[], metric: string, attrs: Record<string, unknown>) =>
  pointOf(points, metric, attrs as never) as Histogram | undefined;

describe('Database metrics', () => {
  it('records db.client.operation.duration per statement: verb, server, route, error.type — no text, no value', async () => {
    sdk = installMetrics();
    const secret = `s3cret-${uniqueName('v')}`;
    const db = new Database({ url: databaseUrl(), applicationName: uniqueName('m_dur') });
    cleanups.push(() => db.close());
    await db.query('select 1'); // warm: the pipelined connection is up
    for (let i = 0; i < 5; i++) await db.query('select $1::text as s', [secret]);
    await db.query("select set_config('connkit.probe', $1, false)", [secret]); // pooled (session state)
    await rejectionOf(
      db.transaction(async (tx) => {
        await tx.query('insert into pg_temp.nothing select 1 where false');
      }),
    );
    await rejectionOf(db.query('select 1 / 0 where $1::text is not null', [secret]));
    const points = await sdk.collect();

    const piped = histogram(points, DURATION, {
      ...SERVER,
      'db.operation.name': 'SELECT',
      'connkit.pipelined': true,
    });
    expect(piped!.count).toBe(6); // the warm-up and the five
    expect(piped!.sum).toBeGreaterThan(0);
    expect(piped!.sum).toBeLessThan(30);
    const pooled = histogram(points, DURATION, {
      ...SERVER,
      'db.operation.name': 'SELECT',
      'connkit.pipelined': false,
    });
    expect(pooled!.count).toBe(1);
    expect(histogram(points, DURATION, { 'db.operation.name': 'BEGIN' })!.count).toBe(1);
    // The insert failed (no such table), so the transaction rolled back: its ROLLBACK is observed too.
    expect(histogram(points, DURATION, { 'db.operation.name': 'INSERT', 'error.type': '42P01' })!.count).toBe(
      1,
    );
    expect(histogram(points, DURATION, { 'db.operation.name': 'ROLLBACK' })!.count).toBe(1);
    const failed = histogram(points, DURATION, {
      ...SERVER,
      'db.operation.name': 'SELECT',
      'error.type': '22012',
      'db.response.status_code': '22012',
      'connkit.pipelined': true,
    });
    expect(failed!.count).toBe(1);
    expect(points.find((p) => p.metric === DURATION)!.unit).toBe('s');
    // Successes carry no error.type.
    expect(
      points.filter((p) => p.metric === DURATION && p.attributes['error.type'] === undefined).length,
    ).toBeGreaterThanOrEqual(3);

    const depth = histogram(points, 'connkit.postgres.pipeline.depth', SERVER);
    expect(depth!.count).toBe(7); // every pipelined statement, the failed one included
    expect(depth!.sum).toBeGreaterThanOrEqual(7);

    const attributes = JSON.stringify(points.map((p) => p.attributes));
    expect(attributes).not.toContain('s3cret');
    expect(attributes).not.toContain('$1');
  });

  it('labels the pools of two Databases on one URL, and of a primary and its replica, with unique names', async () => {
    sdk = installMetrics();
    const a = new Database({ url: databaseUrl(), applicationName: uniqueName('m_pa') });
    const b = new Database({
      url: databaseUrl(),
      replicas: [databaseUrl()],
      applicationName: uniqueName('m_pb'),
    });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    await a.withClient(async () => undefined);
    await b.withClient(async () => undefined);
    await a.query('select 1');
    const points = await sdk.collect();
    const names = new Set(
      points.filter((p) => p.metric === 'db.client.connection.limit').map((p) => String(p.attributes[POOL])),
    );
    const base = `postgres://${url.hostname}:${url.port || 5432}/${url.pathname.slice(1)}`;
    // a's pool, b's primary pool, b's replica pool; each with its pipelined connections.
    expect([...names].sort()).toEqual(
      [
        base,
        `${base}#2`,
        `${base}#3`,
        `${base} (pipelined)`,
        `${base}#2 (pipelined)`,
        `${base}#3 (pipelined)`,
      ].sort(),
    );
    // a's pool has one idle connection; its pipelined connection is open (idle now).
    const aPool = base;
    expect(
      pointOf(points, 'db.client.connection.count', { [POOL]: aPool, 'db.client.connection.state': 'idle' }),
    ).toBe(1);
    expect(
      pointOf(points, 'db.client.connection.count', {
        [POOL]: `${aPool} (pipelined)`,
        'db.client.connection.state': 'idle',
      }),
    ).toBe(1);
    expect(pointOf(points, 'db.client.connection.limit', { [POOL]: `${aPool} (pipelined)` })).toBe(2);

    // Closed, its names are free again: a new Database on the URL takes the first one.
    await a.close();
    const c = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('m_pc'),
      pool: { name: 'orders' },
    });
    cleanups.push(() => c.close());
    const d = new Database({ url: databaseUrl(), applicationName: uniqueName('m_pd') });
    cleanups.push(() => d.close());
    const after = await sdk.collect();
    const limits = after
      .filter((p) => p.metric === 'db.client.connection.limit')
      .map((p) => p.attributes[POOL]);
    expect(limits).toContain('orders');
    expect(limits.filter((n) => n === aPool)).toHaveLength(1); // d reuses a's name, a no longer reports
  });

  it('counts cancellations: sent for an aborted pooled or pipelined statement, resent for a neighbour a late cancel hit', async () => {
    sdk = installMetrics();
    const db = new Database({ url: databaseUrl(), applicationName: uniqueName('m_cancel') });
    cleanups.push(() => db.close());
    await db.query('select 1');
    const sent = async () =>
      (pointOf(await sdk!.collect(), CANCELS, { ...SERVER, 'connkit.postgres.cancel.outcome': 'sent' }) as
        number | undefined) ?? 0;
    expect(await sent()).toBe(0);
    await rejectionOf(db.query('select pg_sleep(30)', undefined, { timeout: 200 })); // pipelined
    await until(async () => (await sent()) === 1, 10_000, 'the pipelined cancel counted');
    await rejectionOf(
      db.query("select pg_sleep(30), set_config('a.b', 'c', false)", undefined, { timeout: 200 }),
    );
    await until(async () => (await sent()) === 2, 10_000, 'the pooled cancel counted');

    // A neighbour hit by a late cancel (the proxy delays every chunk, the CancelRequest included).
    const schema = await createTestSchema(databaseUrl());
    cleanups.push(() => schema.drop());
    await withPgClient(databaseUrl(), (c) => c.query(`create table "${schema.name}".hits (id int)`));
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    cleanups.push(() => proxy.close());
    const app = uniqueName('m_late');
    const late = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName: app,
      pipeline: { connections: 1, stallAfter: Infinity },
      pool: { max: 2 },
    });
    cleanups.push(() => late.close({ timeout: 2_000 }));
    await late.query('select 1');
    await late.withClient(async () => undefined); // a warm pooled connection for the re-send
    const lockKey = 7_770_002;
    await withPgClient(databaseUrl(), async (locker) => {
      await locker.query('select pg_advisory_lock($1)', [lockKey]);
      proxy.setLatency(1_000);
      const ac = new AbortController();
      const head = late.query('select pg_advisory_xact_lock($1)', [lockKey], { signal: ac.signal });
      const neighbour = late.one<{ id: number }>(
        `insert into "${schema.name}".hits (id) select $1 from pg_sleep(3) returning id`,
        [7],
      );
      const waiting = async () =>
        (await backendsOf(databaseUrl(), app)).filter(
          (r) => r.state === 'active' && r.query.includes('pg_advisory_xact_lock'),
        ).length === 1;
      await until(waiting, 20_000, 'the head to wait for the lock');
      ac.abort(new Error('stop the head'));
      await expect(head).rejects.toThrow('stop the head');
      await locker.query('select pg_advisory_unlock($1)', [lockKey]);
      expect(await neighbour).toEqual({ id: 7 });
    });
    expect(late.stats().pipeline.resent).toBe(1);
    const points = await sdk.collect();
    const proxied = new URL(proxy.rewrite(databaseUrl()));
    const at = { 'server.address': proxied.hostname, 'server.port': Number(proxied.port) };
    expect(pointOf(points, CANCELS, { ...at, 'connkit.postgres.cancel.outcome': 'resent' })).toBe(1);
    expect(
      pointOf(points, CANCELS, { ...at, 'connkit.postgres.cancel.outcome': 'sent' }),
    ).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

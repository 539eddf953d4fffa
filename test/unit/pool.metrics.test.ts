import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { setOtelApiForTests } from '../../src/internal/otel-api.js';
import { Pool } from '../../src/pool.js';
import { installMetrics, pointOf, type TestMetrics } from '../support/otel.js';
import { FakeFactory } from './helpers/pool-factory.js';

const NAME = 'db.client.connection.pool.name';
const STATE = 'db.client.connection.state';

let sdk: TestMetrics | undefined;
afterEach(async () => {
  setOtelApiForTests(undefined);
  await sdk?.uninstall();
  sdk = undefined;
});

describe('Pool metrics (db.client.connection.*)', () => {
  it('Pool reports connections by state, pending requests, limit, idle.min and timeouts, labelled with its name', async () => {
    sdk = installMetrics();
    const pool = new Pool(new FakeFactory(), { name: 'orders', max: 2, min: 0 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const queued = pool.acquire({ timeout: 10_000 });
    await expect(pool.acquire({ timeout: 1 })).rejects.toBeInstanceOf(TimeoutError);
    await b.release();
    let points = await sdk.collect();
    expect(pointOf(points, 'db.client.connection.count', { [NAME]: 'orders', [STATE]: 'used' })).toBe(2);
    expect(pointOf(points, 'db.client.connection.count', { [NAME]: 'orders', [STATE]: 'idle' })).toBe(0);
    expect(pointOf(points, 'db.client.connection.limit', { [NAME]: 'orders' })).toBe(2);
    expect(pointOf(points, 'db.client.connection.idle.min', { [NAME]: 'orders' })).toBe(0);
    expect(pointOf(points, 'db.client.connection.timeouts', { [NAME]: 'orders' })).toBe(1);
    expect(points.find((p) => p.metric === 'db.client.connection.count')?.unit).toBe('{connection}');
    const c = await queued;
    await Promise.all([a.release(), c.release()]);
    points = await sdk.collect();
    expect(pointOf(points, 'db.client.connection.count', { [NAME]: 'orders', [STATE]: 'idle' })).toBe(2);
    expect(pointOf(points, 'db.client.connection.pending_requests', { [NAME]: 'orders' })).toBe(0);
    await pool.close();
  });

  it('Pool records db.client.connection.wait_time (seconds) for every borrow: acquire, use and tryAcquire', async () => {
    sdk = installMetrics();
    const factory = new FakeFactory();
    factory.createDelay = 30;
    const pool = new Pool(factory, { name: 'slow' });
    const lease = await pool.acquire(); // waits for a 30 ms create
    await lease.release();
    await pool.use(() => undefined);
    await pool.tryAcquire()?.release();
    const points = await sdk.collect();
    const wait = pointOf(points, 'db.client.connection.wait_time', { [NAME]: 'slow' }) as {
      count: number;
      sum: number;
    };
    expect(wait.count).toBe(3);
    expect(wait.sum).toBeGreaterThanOrEqual(0.025);
    expect(wait.sum).toBeLessThan(5);
    expect(points.find((p) => p.metric === 'db.client.connection.wait_time')?.unit).toBe('s');
    await pool.close();
  });

  it('Pool.close() removes its collection callback: no closed pool is read again (no callback leak)', async () => {
    sdk = installMetrics();
    const reads = new Map<string, number>();
    const pools = Array.from({ length: 20 }, (_, i) => {
      const pool = new Pool(new FakeFactory(), { name: `p${i}` });
      const stats = pool.stats.bind(pool);
      pool.stats = () => (reads.set(`p${i}`, (reads.get(`p${i}`) ?? 0) + 1), stats());
      return pool;
    });
    await sdk.collect();
    expect([...reads.values()]).toEqual(Array(20).fill(1));
    await Promise.all(pools.slice(0, 19).map((p) => p.close()));
    await sdk.collect();
    expect(reads.get('p0')).toBe(1);
    expect(reads.get('p18')).toBe(1);
    expect(reads.get('p19')).toBe(2);
    await pools[19]!.close();
    await pools[19]!.close(); // idempotent
    await sdk.collect();
    expect(reads.get('p19')).toBe(2);
  });

  it('Pool with metrics: false, or made before a MeterProvider is registered, reports nothing', async () => {
    const early = new Pool(new FakeFactory(), { name: 'early' });
    sdk = installMetrics();
    const off = new Pool(new FakeFactory(), { name: 'off', metrics: false });
    await (await early.acquire()).release();
    await (await off.acquire()).release();
    expect(await sdk.collect()).toEqual([]);
    await Promise.all([early.close(), off.close()]);
  });

  it('Pool without @opentelemetry/api installed makes no instrument even with an SDK on the globals', async () => {
    setOtelApiForTests(null);
    sdk = installMetrics();
    const pool = new Pool(new FakeFactory(), { name: 'absent' });
    await (await pool.acquire()).release();
    expect(await sdk.collect()).toEqual([]);
    await pool.close();
  });

  it('Pool rejects a metrics option that is not a boolean, quoting it', () => {
    expect(() => new Pool(new FakeFactory(), { metrics: 'yes' as unknown as boolean })).toThrow(
      new TypeError('metrics must be a boolean, got "yes"'),
    );
  });
});

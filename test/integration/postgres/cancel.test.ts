import { getEventListeners } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { ConnectionError, Database } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, terminateBackends } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { deferred, rejectionOf, until } from '../../support/async.js';

const sleeping = (url: string, app: string) =>
  backendsOf(url, app).then((rows) =>
    rows.filter((r) => r.state === 'active' && r.query.includes('pg_sleep')),
  );

describe('Database.query() cancellation', () => {
  it('cancels the statement on the server when the signal aborts, and reuses the connection', async () => {
    const url = databaseUrl();
    const app = uniqueName('cancel');
    await using db = new Database({ url, applicationName: app, pool: { max: 1 } });
    const pid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    const ac = new AbortController();
    const reason = new Error('user gave up');
    const p = db.query('select pg_sleep(30)', [], { signal: ac.signal });
    await until(async () => (await sleeping(url, app)).length === 1, 10_000, 'pg_sleep to run');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    await until(async () => (await sleeping(url, app)).length === 0, 10_000, 'the statement to be gone');
    expect((await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid).toBe(pid);
    expect(db.stats().cancellations).toBe(1);
    expect(db.stats().pool.destroyed).toBe(0);
  });

  it('cancels on the server after timeout, rejecting with TimeoutError', async () => {
    const url = databaseUrl();
    const app = uniqueName('timeout');
    await using db = new Database({ url, applicationName: app, pool: { max: 1 } });
    const pid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    const err = await rejectionOf(db.query('select pg_sleep(30)', [], { timeout: 300 }));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/timed out after \d+ ms and was cancelled on the server/);
    await until(async () => (await sleeping(url, app)).length === 0, 10_000, 'the statement to be gone');
    expect((await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid).toBe(pid);
  });

  it('applies queryTimeout as the default timeout', async () => {
    const url = databaseUrl();
    const app = uniqueName('qt');
    await using db = new Database({ url, applicationName: app, queryTimeout: 200, pool: { max: 1 } });
    await expect(db.query('select pg_sleep(30)')).rejects.toBeInstanceOf(TimeoutError);
    await until(async () => (await sleeping(url, app)).length === 0, 10_000, 'the statement to be gone');
    expect(await db.one('select 1 as ok')).toEqual({ ok: 1 });
  });

  it('never sends the query of a caller aborted while waiting for a connection', async () => {
    const url = databaseUrl();
    const app = uniqueName('queued');
    // The pool's queue (pipelined statements never wait for a connection: see pipeline-cancel.test.ts).
    await using db = new Database({ url, applicationName: app, pool: { max: 1 }, pipeline: false });
    const marker = uniqueName('marker');
    // The only connection is held until the queued caller has been aborted (a `pg_sleep(0.5)` and a
    // 100 ms timer raced on a busy machine: the hold could end first and the query be sent).
    const release = deferred();
    const holding = deferred();
    const hold = db.withClient(async (c) => {
      await c.query('select 1');
      holding.resolve();
      await release.promise;
    });
    await holding.promise;
    const ac = new AbortController();
    const queued = db.query(`select '${marker}' as m, pg_sleep(10)`, [], { signal: ac.signal });
    await until(() => db.stats().pool.pending === 1, 10_000, 'the query to wait for the connection');
    ac.abort(new Error('not needed'));
    await expect(queued).rejects.toThrow('not needed');
    release.resolve();
    await hold;
    await db.query('select 1');
    const rows = await backendsOf(url, app);
    expect(rows.some((r) => r.query.includes(marker))).toBe(false);
    expect(db.stats().pool.created).toBe(1);
  });

  it('rejects at once for an already-aborted signal', async () => {
    await using db = new Database({ url: databaseUrl() });
    const reason = new Error('early');
    await expect(db.query('select 1', [], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(db.stats().pool.created).toBe(0);
  });
});

describe('Database signals', () => {
  it('leaves no listener on a long-lived signal after many queries, transactions and withClient calls', async () => {
    await using db = new Database({
      url: databaseUrl(),
      applicationName: uniqueName('listeners'),
      pool: { max: 2 },
    });
    const signal = new AbortController().signal;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => db.query('select $1::int', [i], { signal, timeout: 10_000 })),
    );
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction((tx) => tx.query('select 1', [], { signal }), { signal, timeout: 10_000 }),
      ),
    );
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.withClient((c) => c.query('select 1'), { signal, timeout: 10_000 }),
      ),
    );
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

describe('Database connection loss', () => {
  it('survives pg_terminate_backend on idle connections and reconnects', async () => {
    const url = databaseUrl();
    const app = uniqueName('kill_idle');
    const lost: string[] = [];
    const ignore = () => undefined;
    const logger = {
      debug: ignore,
      info: ignore,
      warn: (_: Record<string, unknown>, message: string) => void lost.push(message),
      error: ignore,
    };
    await using db = new Database({ url, applicationName: app, pool: { max: 2 }, pipeline: false, logger });
    await Promise.all([db.query('select pg_sleep(0.05)'), db.query('select pg_sleep(0.05)')]);
    expect(await terminateBackends(url, app)).toBe(2);
    // Until both idle connections have read the server's termination notice (a 100 ms sleep could
    // end first on a busy machine; a connection dying under a query is the next test's case).
    await until(
      () => lost.filter((m) => /connection lost/.test(m)).length === 2,
      10_000,
      'both connections to see their termination',
    );
    expect(await db.one('select 1 as ok')).toEqual({ ok: 1 });
    expect(db.stats().pool.created).toBeGreaterThanOrEqual(3);
  });

  it('fails a busy query with ConnectionError on termination, then works on a fresh connection', async () => {
    const url = databaseUrl();
    const app = uniqueName('kill_busy');
    await using db = new Database({ url, applicationName: app, pool: { max: 1 } });
    const pid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    const lost = expect(db.query('select pg_sleep(30)')).rejects.toBeInstanceOf(ConnectionError);
    await until(async () => (await sleeping(url, app)).length === 1, 10_000, 'pg_sleep to run');
    await terminateBackends(url, app);
    await lost;
    const next = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
    expect(next).not.toBe(pid);
  });
});

/**
 * A proxy in front of the server that forwards sessions but drops every CancelRequest (some poolers
 * and proxies do): cancels must then go through `pg_cancel_backend` on a fresh connection.
 */
async function cancelDroppingProxy(
  url: string,
): Promise<{ url: string; dropped: () => number; close(): Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  let dropped = 0;
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    client.once('readable', () => {
      const head = client.read(8) as Buffer | null;
      if (head === null || (head.readInt32BE(0) === 16 && head.readInt32BE(4) === 80877102)) {
        dropped++;
        client.destroy();
        return;
      }
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      track(upstream);
      upstream.write(head);
      client.pipe(upstream).pipe(client);
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    dropped: () => dropped,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('PgConnection.cancel() fallback', () => {
  it('cancels with pg_cancel_backend when the CancelRequest cannot be delivered, and keeps the connection', async () => {
    const url = databaseUrl();
    const app = uniqueName('cancel_fb');
    const proxy = await cancelDroppingProxy(url);
    const debug: string[] = [];
    try {
      await using db = new Database({
        url: proxy.url,
        applicationName: app,
        pool: { max: 1 },
        logger: { warn: () => undefined, debug: (_details, message) => void debug.push(message) },
      });
      const pid = (await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid;
      const ac = new AbortController();
      const reason = new Error('stop it');
      const p = db.query('select pg_sleep(30)', [], { signal: ac.signal });
      await until(async () => (await sleeping(url, app)).length === 1, 10_000, 'pg_sleep to run');
      ac.abort(reason);
      await expect(p).rejects.toBe(reason);
      await until(
        async () => (await sleeping(url, app)).length === 0,
        10_000,
        'the statement to be cancelled',
      );
      expect((await db.one<{ pid: number }>('select pg_backend_pid() as pid')).pid).toBe(pid);
      expect(proxy.dropped()).toBeGreaterThanOrEqual(1);
      expect(debug.some((m) => /cancel sent \(pg_cancel_backend\)/.test(m))).toBe(true);
      expect(db.stats().pool.destroyed).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});

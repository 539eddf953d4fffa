import { getEventListeners } from 'node:events';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  listen,
  type ListenConnect,
  type Notification,
  type Subscription,
} from '../../../adapters/postgres/listen.js';
import { notify } from '../../../adapters/postgres/notify.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, terminateBackends, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';

const subs: Subscription[] = [];
afterEach(async () => {
  await Promise.all(subs.splice(0).map((s) => s.close()));
});

function connector(app: string): ListenConnect & { calls: number } {
  const fn = Object.assign(
    async (_signal: AbortSignal) => {
      fn.calls++;
      const client = new pg.Client({ connectionString: databaseUrl(), application_name: app });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
    { calls: 0 },
  );
  return fn;
}

async function open(channel: string, opts: Parameters<typeof listen>[2] = {}) {
  const app = uniqueName('listen');
  const connect = connector(app);
  const sub = await listen(connect, channel, opts);
  subs.push(sub);
  return { sub, app, connect };
}

const send = (channel: string, payload?: string) =>
  withPgClient(databaseUrl(), (c) => notify(c, channel, payload));

async function nextWithin(sub: Subscription, ms = 5000): Promise<IteratorResult<Notification, undefined>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no notification within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([sub.next(), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('listen()', () => {
  it('delivers channel, payload and the sender’s processId', async () => {
    const channel = uniqueName('ch');
    const longLived = new AbortController();
    const { sub } = await open(channel, { signal: longLived.signal });
    const pid = await withPgClient(databaseUrl(), async (c) => {
      await notify(c, channel, 'hello');
      return (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    });
    const got = await nextWithin(sub);
    expect(got).toEqual({ done: false, value: { channel, payload: 'hello', processId: pid } });
    await send(channel);
    expect((await nextWithin(sub)).value?.payload).toBe('');
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(1); // held while open
    await sub.close();
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);
  });

  it('treats a hostile channel name as a literal, case-sensitive identifier', async () => {
    const hostile = `x"; select pg_terminate_backend(pg_backend_pid()); --${uniqueName('h')}`.slice(0, 63);
    const { sub } = await open(hostile);
    const { sub: upper } = await open(hostile.toUpperCase());
    await send(hostile, 'exact');
    expect(await nextWithin(sub)).toEqual({
      done: false,
      value: expect.objectContaining({ channel: hostile, payload: 'exact' }),
    });
    await send(hostile.toUpperCase(), 'upper');
    expect((await nextWithin(upper)).value?.payload).toBe('upper');
    expect(sub.reconnects).toBe(0);
  });

  it('keeps every notification, in order, for a slow consumer beyond maxBuffered', async () => {
    const channel = uniqueName('ch');
    const { sub } = await open(channel, { maxBuffered: 5 });
    await withPgClient(databaseUrl(), async (c) => {
      await c.query('begin');
      // 2 kB payloads: ~400 kB in all, many socket reads, so pausing and resuming really happen.
      for (let i = 0; i < 200; i++) await notify(c, channel, `${i}:${'p'.repeat(2000)}`);
      await c.query('commit');
    });
    await new Promise((r) => setTimeout(r, 200)); // let them all arrive while nobody reads
    const got: string[] = [];
    for (let i = 0; i < 200; i++) got.push((await nextWithin(sub)).value!.payload.split(':')[0]!);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it('reconnects after its backend is terminated and re-issues LISTEN', async () => {
    const channel = uniqueName('ch');
    let reconnected = 0;
    const errors: unknown[] = [];
    const { sub, app, connect } = await open(channel, {
      onReconnect: () => reconnected++,
      onError: (e) => errors.push(e),
      reconnect: { initialDelay: 20, maxDelay: 200 },
    });
    expect(await terminateBackends(databaseUrl(), app)).toBe(1);
    // Notifications sent while it is down are lost, so keep sending until one gets through.
    const pending = sub.next();
    let got: IteratorResult<Notification, undefined> | undefined;
    void pending.then((r) => (got = r));
    for (let i = 0; i < 200 && got === undefined; i++) {
      await send(channel, `after-${i}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(got?.value?.payload).toMatch(/^after-/);
    expect(sub.reconnects).toBe(1);
    expect(reconnected).toBe(1);
    expect(connect.calls).toBe(2);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect((await backendsOf(databaseUrl(), app)).length).toBe(1);
  });

  it('rejects at once for an already-aborted signal without connecting', async () => {
    const connect = connector(uniqueName('listen'));
    const reason = new Error('gone');
    await expect(listen(connect, 'c', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(connect.calls).toBe(0);
  });

  it('rejects with the connect error when the first connection fails', async () => {
    const failing: ListenConnect = async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: 1 });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    };
    await expect(listen(failing, 'c')).rejects.toThrow(/ECONNREFUSED|connect/);
  });

  it('throws synchronously on a bad channel or option', () => {
    const connect = connector('unused');
    expect(() => listen(connect, '')).toThrow(RangeError);
    expect(() => listen(connect, 'a\0b')).toThrow(RangeError);
    expect(() => listen(connect, 'x'.repeat(64))).toThrow(RangeError);
    expect(() => listen(connect, 42 as unknown as string)).toThrow(TypeError);
    expect(() => listen(connect, 'c', { maxBuffered: 0 })).toThrow(RangeError);
    expect(() => listen(connect, 'c', { heartbeat: -1 })).toThrow(RangeError);
    expect(() => listen(connect, 'c', { heartbeat: Infinity })).toThrow(RangeError);
    expect(() => listen(connect, 'c', { reconnect: { factor: 0.5 } })).toThrow(RangeError);
    expect(connect.calls).toBe(0);
  });
});

describe('Subscription.close()', () => {
  it('ends pending and later next() calls, closes the connection and is idempotent', async () => {
    const { sub, app } = await open(uniqueName('ch'));
    const pending = sub.next();
    await Promise.all([sub.close(), sub.close()]);
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    await expect(sub.next()).resolves.toEqual({ done: true, value: undefined });
    expect(sub.closed).toBe(true);
    expect(await backendsOf(databaseUrl(), app)).toEqual([]);
  });

  it('runs on `await using` and when a for-await loop is left', async () => {
    const channel = uniqueName('ch');
    let app: string;
    {
      const opened = await open(channel);
      app = opened.app;
      await using sub = opened.sub;
      await send(channel, 'one');
      for await (const n of sub) {
        expect(n.payload).toBe('one');
        break;
      }
      expect(sub.closed).toBe(true);
    }
    expect(await backendsOf(databaseUrl(), app)).toEqual([]);
  });

  it('rejects pending next() with signal.reason on abort and closes', async () => {
    const ac = new AbortController();
    const { sub, app } = await open(uniqueName('ch'), { signal: ac.signal });
    const pending = sub.next();
    const reason = new Error('stop listening');
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await expect(sub.next()).rejects.toBe(reason);
    await sub.close();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(await backendsOf(databaseUrl(), app)).toEqual([]);
  });
});

describe('notify()', () => {
  it('sends through any queryable and refuses oversized payloads synchronously', async () => {
    const channel = uniqueName('ch');
    const { sub } = await open(channel);
    await withPgClient(databaseUrl(), (c) =>
      notify({ query: (t, v) => c.query(t, v) }, channel, 'via wrapper'),
    );
    expect((await nextWithin(sub)).value?.payload).toBe('via wrapper');
    const client = { query: () => Promise.resolve() };
    expect(() => notify(client, channel, 'x'.repeat(8000))).toThrow(RangeError);
    expect(() => notify(client, '', 'x')).toThrow(RangeError);
    expect(() => notify(client, channel, 5 as unknown as string)).toThrow(TypeError);
  });
});

import { getEventListeners } from 'node:events';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { Deadline } from '../../../src/internal/index.js';
import { PgConnection } from '../../../adapters/postgres/connection.js';
import type { ListenConnect, Notification } from '../../../adapters/postgres/listen-options.js';
import { listen } from '../../../adapters/postgres/listen.js';
import { notifyStatement } from '../../../adapters/postgres/notify.js';
import type { Subscription } from '../../../adapters/postgres/subscription.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, terminateBackends, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { until } from '../../support/async.js';
import { connectSettings } from './connection-harness.js';

const subs: Subscription[] = [];
afterEach(async () => {
  await Promise.all(subs.splice(0).map((s) => s.close()));
});

function connector(app: string): ListenConnect & { calls: number } {
  const settings = connectSettings({ app });
  const fn = Object.assign(
    (signal: AbortSignal) => {
      fn.calls++;
      return PgConnection.open(settings, { signal, deadline: Deadline.NEVER });
    },
    { calls: 0 },
  );
  return fn;
}

/** NOTIFY through a raw client, with connkit's statement. */
const notify = (client: pg.Client, channel: string, payload?: string) => {
  const { text, values } = notifyStatement(channel, payload);
  return client.query(text, [...values]);
};

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

  it('keeps a healthy connection through many heartbeats', async () => {
    const channel = uniqueName('ch');
    const errors: unknown[] = [];
    const { sub, app } = await open(channel, { heartbeat: 200, onError: (e) => errors.push(e) });
    const pid = (await backendsOf(databaseUrl(), app))[0]!.pid;
    // Three answered pings on the same backend: each must disarm its deadline, or the connection
    // is cut one beat after the first and the pings go on (if at all) on another backend.
    const beats = new Set<string>();
    await until(
      async () => {
        const row = await withPgClient(databaseUrl(), async (c) =>
          (
            await c.query<{ started: string; query: string }>(
              'select query_start::text as started, query from pg_stat_activity where pid = $1',
              [pid],
            )
          ).rows.at(0),
        );
        if (row?.query === 'select 1') beats.add(row.started);
        return beats.size >= 3;
      },
      10_000,
      'three heartbeats on one backend',
    );
    await send(channel, 'alive');
    expect((await nextWithin(sub)).value?.payload).toBe('alive');
    expect(errors).toEqual([]);
    expect(sub.reconnects).toBe(0);
  });

  it('rejects at once for an already-aborted signal without connecting', async () => {
    const connect = connector(uniqueName('listen'));
    const reason = new Error('gone');
    await expect(listen(connect, 'c', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(connect.calls).toBe(0);
  });

  it('rejects with the connect error when the first connection fails', async () => {
    const settings = connectSettings({ url: 'postgres://nobody@127.0.0.1:1/none' });
    const failing: ListenConnect = (signal) =>
      PgConnection.open(settings, { signal, deadline: Deadline.NEVER });
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

describe('notifyStatement()', () => {
  it('carries channel and payload as parameters, and refuses bad ones synchronously', async () => {
    const channel = uniqueName('ch');
    const { sub } = await open(channel);
    const statement = notifyStatement(channel, "it's; select 1");
    expect(statement).toEqual({ text: 'select pg_notify($1, $2)', values: [channel, "it's; select 1"] });
    await withPgClient(databaseUrl(), (c) => c.query(statement.text, [...statement.values]));
    expect((await nextWithin(sub)).value?.payload).toBe("it's; select 1");
    expect(() => notifyStatement(channel, 'x'.repeat(8000))).toThrow(RangeError);
    expect(() => notifyStatement('', 'x')).toThrow(RangeError);
    expect(() => notifyStatement(channel, 5 as unknown as string)).toThrow(TypeError);
  });
});

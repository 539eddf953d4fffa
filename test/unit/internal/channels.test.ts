import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { recordChannel, type ChannelEvent } from '../../support/channels.js';
import { TimeoutError } from '../../../src/errors.js';
import {
  poolAcquireChannel,
  traceCall,
  traceSyncCall,
  type PoolAcquireContext,
  type TracedOperation,
} from '../../../src/internal/channels.js';
import { Pool } from '../../../src/pool.js';
import { FakeFactory } from '../helpers/pool-factory.js';

/** Subscribes to every event of `name` (copying the context as it was then) until the test ends. */
const unsubscribers: (() => void)[] = [];
function record(name: string): ChannelEvent[] {
  const { events, stop } = recordChannel(name);
  unsubscribers.push(stop);
  return events;
}

afterEach(() => {
  for (const off of unsubscribers.splice(0)) off();
});

const testChannel = diagnosticsChannel.tracingChannel<
  unknown,
  TracedOperation & { op: string; result?: number }
>('connkit:test:op');

describe('traceCall()', () => {
  it('is fn() itself when nobody subscribes: the same promise, no event', () => {
    const p = Promise.resolve(1);
    expect(testChannel.hasSubscribers).toBe(false);
    expect(traceCall(testChannel, { op: 'x' }, () => p)).toBe(p);
  });

  it('publishes start, end, asyncStart, asyncEnd with the summary as result, never the raw value', async () => {
    const events = record('connkit:test:op');
    const raw = { rows: [{ secret: 'card' }], rowCount: 1 };
    const got = await traceCall(
      testChannel,
      { op: 'q' },
      () => Promise.resolve(raw),
      (r, ctx) => (ctx.result = r.rowCount),
    );
    expect(got).toBe(raw);
    expect(events.map(([e]) => e)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(events.at(-1)?.[1]).toEqual({ op: 'q', result: 1 });
  });

  it('publishes error with the rejection, and a synchronous throw stays synchronous', async () => {
    const events = record('connkit:test:op');
    const err = new Error('down');
    await expect(traceCall(testChannel, { op: 'a' }, () => Promise.reject(err))).rejects.toBe(err);
    expect(events.map(([e]) => e)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(events[2]?.[1]['error']).toBe(err);
    events.length = 0;
    expect(() =>
      traceCall(testChannel, { op: 's' }, () => {
        throw new RangeError('bad timeout');
      }),
    ).toThrow(RangeError);
    expect(events.map(([e]) => e)).toEqual(['start', 'error', 'end']);
  });

  it('runs fn inside the stores bound to start (how APM agents keep their context)', async () => {
    const store = new AsyncLocalStorage<string>();
    testChannel.start.bindStore(store, (ctx) => `op:${ctx.op}`);
    try {
      const seen = await traceCall(testChannel, { op: 'bound' }, async () => {
        await Promise.resolve();
        return store.getStore();
      });
      expect(seen).toBe('op:bound');
    } finally {
      testChannel.start.unbindStore(store);
    }
  });

  it('traceSyncCall() publishes start and end around a synchronous call, error on a throw', () => {
    const events = record('connkit:test:op');
    expect(
      traceSyncCall(
        testChannel,
        { op: 'n' },
        () => 7,
        (r, ctx) => (ctx.result = r),
      ),
    ).toBe(7);
    expect(events.map(([e]) => e)).toEqual(['start', 'end']);
    expect(events[1]?.[1]).toEqual({ op: 'n', result: 7 });
  });
});

describe('Pool on connkit:pool:acquire', () => {
  it('Pool.acquire(), use() and tryAcquire() publish one operation each with the pool’s name, state and outcome', async () => {
    const events = record('connkit:pool:acquire');
    const pool = new Pool(new FakeFactory(), { name: 'orders-db', max: 2, metrics: false });
    const lease = await pool.acquire({ timeout: 500 });
    await pool.use(() => undefined);
    const idle = pool.tryAcquire(); // the use() one is idle: lent
    await idle?.release();
    await lease.release();
    await pool.close();
    const contexts = events
      .filter(([e]) => e === 'start')
      .map(([, ctx]) => ctx as unknown as PoolAcquireContext);
    expect(contexts.map((c) => [c.pool, c.operation, c.timeout, c.max])).toEqual([
      ['orders-db', 'acquire', 500, 2],
      ['orders-db', 'use', 10_000, 2],
      ['orders-db', 'tryAcquire', 0, 2],
    ]);
    expect(contexts[1]?.borrowed).toBe(1);
    expect(events.map(([e]) => e)).toEqual([
      ...['start', 'end', 'asyncStart', 'asyncEnd'],
      ...['start', 'end', 'asyncStart', 'asyncEnd'],
      ...['start', 'end'],
    ]);
    expect(events.filter(([e]) => e === 'asyncEnd' || e === 'end').map(([, c]) => c['result'])).toEqual([
      undefined, // acquire: end of the synchronous part
      { lent: true },
      undefined,
      { lent: true },
      { lent: true }, // tryAcquire
    ]);
  });

  it('Pool.acquire() that times out publishes error with the TimeoutError', async () => {
    const events = record('connkit:pool:acquire');
    const pool = new Pool(new FakeFactory(), { name: 'tiny', max: 1, metrics: false });
    const held = await pool.acquire();
    await expect(pool.acquire({ timeout: 5 })).rejects.toBeInstanceOf(TimeoutError);
    const error = events.find(([e]) => e === 'error');
    expect(error?.[1]['error']).toBeInstanceOf(TimeoutError);
    expect(error?.[1]['waiting']).toBe(0);
    expect(error?.[1]['borrowed']).toBe(1);
    await held.release();
    await pool.close();
  });

  it('Pool.acquire() with bad options still throws synchronously while traced', () => {
    record('connkit:pool:acquire');
    const pool = new Pool(new FakeFactory(), { metrics: false });
    expect(() => pool.acquire({ timeout: -1 })).toThrow(RangeError);
    expect(poolAcquireChannel.hasSubscribers).toBe(true);
    void pool.close();
  });
});

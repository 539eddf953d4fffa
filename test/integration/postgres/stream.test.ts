import { getEventListeners } from 'node:events';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type { LendConnection } from '../../../adapters/postgres/connection-lease.js';
import { ConnectionError, DatabaseError } from '../../../adapters/postgres/errors.js';
import { sql } from '../../../adapters/postgres/sql.js';
import { streamRows } from '../../../adapters/postgres/stream.js';
import { TimeoutError } from '../../../src/errors.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, terminateBackends } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { answers, leaseHarness, type LeaseHarness } from './connection-harness.js';
import { rejectionOf } from '../../support/async.js';

const harnesses: LeaseHarness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.end()));
});

async function harness(opts: { pipeline?: boolean } = {}): Promise<LeaseHarness> {
  const h = await leaseHarness(opts);
  harnesses.push(h);
  return h;
}

function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('streamRows()', () => {
  it('yields every row in order across batches and releases the connection healthy', async () => {
    const h = await harness();
    const seen: number[] = [];
    const longLived = new AbortController();
    for await (const row of streamRows<{ x: number }>(
      h.lend,
      'select x from generate_series(1, $1::int) x',
      [1050],
      { batchSize: 100, signal: longLived.signal },
    )) {
      seen.push(row.x);
    }
    expect(seen).toEqual(Array.from({ length: 1050 }, (_, i) => i + 1));
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('accepts a SqlQuery and yields nothing for an empty result', async () => {
    const h = await harness();
    const rows: unknown[] = [];
    for await (const row of streamRows(h.lend, sql`select ${'a'}::text as s where ${false}::bool`))
      rows.push(row);
    expect(rows).toEqual([]);
    const one: unknown[] = [];
    for await (const row of streamRows(h.lend, sql`select ${'a'}::text as s`)) one.push(row);
    expect(one).toEqual([{ s: 'a' }]);
    expect(h.releases).toEqual([[], []]);
  });

  it('serves overlapping next() calls in order and acquires once', async () => {
    const h = await harness();
    const it = streamRows<{ x: number }>(h.lend, 'select x from generate_series(1, 5) x', [], {
      batchSize: 2,
    })[Symbol.asyncIterator]();
    const results = await Promise.all(Array.from({ length: 7 }, () => it.next()));
    expect(results.map((r) => (r.done ? 'done' : r.value.x))).toEqual([1, 2, 3, 4, 5, 'done', 'done']);
    expect(h.lent).toBe(1);
    expect(h.releases).toEqual([[]]);
  });

  it('is lazy: nothing is acquired until iteration starts', async () => {
    const h = await harness();
    const stream = streamRows(h.lend, 'select 1');
    expect(h.lent).toBe(0);
    for await (const _ of stream) break;
    expect(h.lent).toBe(1);
  });

  it('keeps the heap flat while streaming 1 000 000 rows', async () => {
    const h = await harness();
    const gc = getGc();
    const samples: number[] = [];
    let count = 0;
    let sum = 0;
    const stream = streamRows<{ x: number; pad: string }>(
      h.lend,
      "select x, repeat('p', 20) as pad from generate_series(1, 1000000) x",
      [],
      { batchSize: 1000 },
    );
    for await (const row of stream) {
      count++;
      sum += row.x;
      if (count % 100_000 === 0) {
        gc();
        samples.push(process.memoryUsage().heapUsed);
      }
    }
    expect(count).toBe(1_000_000);
    expect(sum).toBe(500_000_500_000);
    const growth = Math.max(...samples) - samples[0]!;
    console.log(
      `streamRows 1e6 rows: heapUsed samples (MB) ${samples.map((s) => (s / 2 ** 20).toFixed(1)).join(' ')}; growth ${(growth / 2 ** 20).toFixed(1)} MB`,
    );
    // Buffering the whole result would take ~100 MB; a flat stream stays within noise.
    expect(growth).toBeLessThan(16 * 2 ** 20);
    expect(h.releases).toEqual([[]]);
  });

  it('closes the cursor and releases the connection healthy on break', async () => {
    const h = await harness();
    let n = 0;
    for await (const _ of streamRows(h.lend, 'select x from generate_series(1, 100000) x', [], {
      batchSize: 50,
    })) {
      if (++n === 120) break;
    }
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
    expect((await h.conn.run({ text: 'select 1 as ok', values: undefined })).rows).toEqual([{ ok: 1 }]);
  });

  it('rejects with signal.reason when aborted between rows and releases healthy', async () => {
    const h = await harness();
    const ac = new AbortController();
    const reason = new Error('stop');
    let n = 0;
    const run = async () => {
      for await (const _ of streamRows(h.lend, 'select x from generate_series(1, 100000) x', [], {
        signal: ac.signal,
      })) {
        if (++n === 10) ac.abort(reason);
      }
    };
    await expect(run()).rejects.toBe(reason);
    expect(n).toBe(10);
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('cancels a slow batch on the server when aborted, keeping the connection healthy', async () => {
    const h = await harness();
    const ac = new AbortController();
    const reason = new Error('enough');
    const stream = streamRows(
      h.lend,
      'select x from generate_series(1, 3) x where pg_sleep(30) is not null',
      [],
      {
        signal: ac.signal,
      },
    );
    const it = stream[Symbol.asyncIterator]();
    const pending = it.next();
    await waitForActive(h.app);
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(h.releases).toEqual([[]]);
    const active = (await backendsOf(databaseUrl(), h.app)).filter((b) => b.state === 'active');
    expect(active).toEqual([]);
    expect((await h.conn.run({ text: 'select 2 as ok', values: undefined })).rows).toEqual([{ ok: 2 }]);
  });

  it('cancels a slow batch on the server at its timeout, rejecting with TimeoutError, connection healthy', async () => {
    const h = await harness();
    const it = streamRows(
      h.lend,
      'select x from generate_series(1, 3) x where pg_sleep(30) is not null',
      [],
      {
        timeout: 300,
      },
    )[Symbol.asyncIterator]();
    const first = it.next();
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    await expect(first).rejects.toThrow('stream() timed out after 300 ms');
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
    const active = (await backendsOf(databaseUrl(), h.app)).filter((b) => b.query.includes('pg_sleep(30)'));
    expect(active.every((b) => b.state !== 'active')).toBe(true);
  });

  it('destroys the connection when it dies under a running batch', async () => {
    const h = await harness();
    const it = streamRows(h.lend, 'select pg_sleep(30)')[Symbol.asyncIterator]();
    const pending = it.next();
    await waitForActive(h.app);
    await terminateBackends(databaseUrl(), h.app);
    await expect(pending).rejects.toBeInstanceOf(ConnectionError);
    expect(h.releases).toHaveLength(1);
    expect(h.releases[0]![0]).toBeInstanceOf(Error);
  });

  it('rejects with DatabaseError on a SQL error and keeps the connection', async () => {
    const h = await harness();
    const run = async () => {
      for await (const _ of streamRows(h.lend, `select * from ${uniqueName('missing')}`)) {
        /* empty */
      }
    };
    const err = await rejectionOf(run());
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('42P01');
    expect(h.releases).toEqual([[]]);
    expect((await h.conn.run({ text: 'select 3 as ok', values: undefined })).rows).toEqual([{ ok: 3 }]);
  });

  it('rejects at once with the reason of an already-aborted signal, acquiring nothing', async () => {
    const h = await harness();
    const reason = new Error('dead');
    const it = streamRows(h.lend, 'select 1', [], { signal: AbortSignal.abort(reason) })[
      Symbol.asyncIterator
    ]();
    await expect(it.next()).rejects.toBe(reason);
    expect(h.lent).toBe(0);
  });

  it('refuses a pipelined connection with a clear error and releases it', async () => {
    const h = await harness({ pipeline: true });
    const it = streamRows(h.lend, 'select 1')[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/non-pipelined/);
    expect(h.releases).toEqual([[]]);
  });

  it('throws synchronously on bad arguments', () => {
    const lend: LendConnection = () => Promise.reject(new Error('unused'));
    expect(() => streamRows(lend, 'select 1', [], { batchSize: 0 })).toThrow(RangeError);
    expect(() => streamRows(lend, 'select 1', [], { timeout: -1 })).toThrow(RangeError);
    expect(() => streamRows(lend, 'select $1', [undefined])).toThrow(TypeError);
    expect(() => streamRows(lend, 42 as unknown as string)).toThrow(/42/);
  });
});

async function waitForActive(app: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await backendsOf(databaseUrl(), app);
    if (rows.some((r) => r.state === 'active' && r.query.includes('pg_sleep'))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no active pg_sleep for ${app}`);
}

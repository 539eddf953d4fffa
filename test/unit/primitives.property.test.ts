/**
 * Property-based tests: Semaphore, Lock and Queue driven through random interleavings of
 * acquire / abort / timeout / release / put / get, with invariants checked at every quiet point.
 * Fake timers make timeouts deterministic; "quiet" means every pending microtask has run.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { Lock } from '../../src/lock.js';
import { Queue } from '../../src/queue.js';
import { Semaphore } from '../../src/semaphore.js';
import {
  abortOnePending,
  expectNoAbortListeners,
  passTime,
  quiet,
  waitOptions,
} from './helpers/property-model.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const waitOpts = fc.record({
  signal: fc.boolean(),
  timeout: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
});

// ---------------------------------------------------------------------------------------------
// Semaphore and Lock: one model, two adapters.

interface Permits {
  acquire(opts: { signal?: AbortSignal; timeout?: number }): Promise<void>;
  release(): void;
  tryAcquire(): boolean;
  free(): number;
  waiting(): number;
}

type PermitOp =
  | { t: 'acquire'; signal: boolean; timeout: number | undefined }
  | { t: 'try' }
  | { t: 'abort'; i: number }
  | { t: 'release'; i: number }
  | { t: 'tick'; ms: number }
  | { t: 'quiet' };

const permitOp: fc.Arbitrary<PermitOp> = fc.oneof(
  { weight: 4, arbitrary: waitOpts.map((o) => ({ t: 'acquire' as const, ...o })) },
  { weight: 1, arbitrary: fc.constant({ t: 'try' as const }) },
  { weight: 2, arbitrary: fc.nat(50).map((i) => ({ t: 'abort' as const, i })) },
  { weight: 3, arbitrary: fc.nat(50).map((i) => ({ t: 'release' as const, i })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20 }).map((ms) => ({ t: 'tick' as const, ms })) },
  { weight: 2, arbitrary: fc.constant({ t: 'quiet' as const }) },
);

interface Acquirer {
  id: number;
  ac: AbortController | undefined;
  state: 'pending' | 'holding' | 'released' | 'rejected';
  reason?: unknown;
}

async function checkPermits(make: (limit: number) => Permits, limit: number, ops: PermitOp[]): Promise<void> {
  const sem = make(limit);
  const all: Acquirer[] = [];
  let holding = 0;
  let peak = 0;
  const errors: string[] = [];
  const grant = (a: Acquirer) => {
    a.state = 'holding';
    holding++;
    peak = Math.max(peak, holding);
  };

  const checkQuiet = () => {
    const pending = all.filter((a) => a.state === 'pending');
    expect(sem.free() + holding).toBe(limit); // no permit lost or duplicated
    expect(sem.waiting()).toBe(pending.length); // nobody left behind in the queue
    if (pending.length > 0) expect(sem.free()).toBe(0);
    // FIFO / no overtaking: nobody holds a permit while an earlier caller still waits.
    const firstPending = pending[0]?.id ?? Infinity;
    for (const a of all)
      if (a.state === 'holding' && a.id > firstPending) errors.push(`#${a.id} overtook #${firstPending}`);
    expectNoAbortListeners(all);
  };

  for (const op of ops) {
    switch (op.t) {
      case 'acquire': {
        const a: Acquirer = {
          id: all.length,
          ac: op.signal ? new AbortController() : undefined,
          state: 'pending',
        };
        all.push(a);
        sem.acquire(waitOptions(a.ac, op.timeout)).then(
          () => grant(a),
          (err: unknown) => {
            a.state = 'rejected';
            a.reason = err;
            if (!(err instanceof TimeoutError) && err !== a.ac?.signal.reason)
              errors.push(`#${a.id}: ${String(err)}`);
          },
        );
        break;
      }
      case 'try': {
        const a: Acquirer = { id: all.length, ac: undefined, state: 'pending' };
        all.push(a);
        if (sem.tryAcquire()) grant(a);
        else a.state = 'rejected';
        break;
      }
      case 'abort':
        // Pending in the model includes "woken but not resumed", which is where the hand-on rule bites.
        abortOnePending(all, op.i);
        break;
      case 'release': {
        const holders = all.filter((a) => a.state === 'holding');
        const h = holders[op.i % Math.max(1, holders.length)];
        if (h) {
          h.state = 'released';
          holding--;
          sem.release();
        }
        break;
      }
      case 'tick':
      case 'quiet':
        await passTime(op, checkQuiet);
        break;
    }
    expect(holding).toBeLessThanOrEqual(limit);
  }
  // Wind down: release every holder until nobody waits; every promise must settle.
  await quiet();
  for (let guard = 0; guard < 10_000; guard++) {
    const h = all.find((a) => a.state === 'holding');
    if (!h) break;
    h.state = 'released';
    holding--;
    sem.release();
    await quiet();
  }
  checkQuiet();
  expect(all.filter((a) => a.state === 'pending')).toEqual([]);
  expect(sem.free()).toBe(limit);
  expect(peak).toBeLessThanOrEqual(limit);
  expect(errors).toEqual([]);
}

describe('Semaphore (property)', () => {
  it('conserves permits, serves FIFO, leaves nothing behind under random acquire/abort/timeout/release', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(permitOp, { minLength: 10, maxLength: 80 }),
        (limit, ops) =>
          checkPermits(
            (n) => {
              const sem = new Semaphore(n);
              return {
                acquire: (o) => sem.acquire(o),
                release: () => sem.release(),
                tryAcquire: () => sem.tryAcquire(),
                free: () => sem.value,
                waiting: () => sem.waiting,
              };
            },
            limit,
            ops,
          ),
      ),
      {
        numRuns: 150,
        examples: [
          [
            1,
            [
              { t: 'acquire', signal: false, timeout: undefined },
              { t: 'quiet' },
              { t: 'acquire', signal: true, timeout: undefined },
              { t: 'release', i: 0 },
              { t: 'abort', i: 0 },
              { t: 'quiet' },
            ],
          ],
        ],
      },
    );
  });
});

describe('Lock (property)', () => {
  it('is held by at most one caller, FIFO, with nothing left behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(permitOp, { minLength: 10, maxLength: 80 }), (ops) =>
        checkPermits(
          () => {
            const lock = new Lock();
            return {
              acquire: (o) => lock.acquire(o),
              release: () => lock.release(),
              tryAcquire: () => false,
              free: () => (lock.locked() ? 0 : 1),
              waiting: () => lock.waiting,
            };
          },
          1,
          ops,
        ),
      ),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Queue.

type QueueOp =
  | { t: 'put'; signal: boolean; timeout: number | undefined }
  | { t: 'get'; signal: boolean; timeout: number | undefined }
  | { t: 'abort'; i: number }
  | { t: 'tick'; ms: number }
  | { t: 'quiet' };

const queueOp = (aborts: boolean): fc.Arbitrary<QueueOp> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: (aborts ? waitOpts : fc.constant({ signal: false, timeout: undefined })).map((o) => ({
        t: 'put' as const,
        ...o,
      })),
    },
    {
      weight: 4,
      arbitrary: (aborts ? waitOpts : fc.constant({ signal: false, timeout: undefined })).map((o) => ({
        t: 'get' as const,
        ...o,
      })),
    },
    { weight: aborts ? 2 : 0, arbitrary: fc.nat(50).map((i) => ({ t: 'abort' as const, i })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 20 }).map((ms) => ({ t: 'tick' as const, ms })) },
    { weight: 2, arbitrary: fc.constant({ t: 'quiet' as const }) },
  );

interface Call {
  id: number;
  kind: 'put' | 'get';
  ac: AbortController | undefined;
  state: 'pending' | 'done' | 'rejected';
  item?: number;
}

async function checkQueue(maxsize: number, ops: QueueOp[], strictOrder: boolean): Promise<void> {
  const q = new Queue<number>({ maxsize });
  const calls: Call[] = [];
  const errors: string[] = [];
  const settle = (c: Call, p: Promise<unknown>) =>
    p.then(
      (v) => {
        c.state = 'done';
        if (c.kind === 'get') c.item = v as number;
      },
      (err: unknown) => {
        c.state = 'rejected';
        if (!(err instanceof TimeoutError) && err !== c.ac?.signal.reason)
          errors.push(`#${c.id}: ${String(err)}`);
      },
    );
  const start = (kind: 'put' | 'get', signal: boolean, timeout: number | undefined) => {
    const c: Call = {
      id: calls.length,
      kind,
      ac: signal ? new AbortController() : undefined,
      state: 'pending',
    };
    calls.push(c);
    const opts = waitOptions(c.ac, timeout);
    void settle(c, kind === 'put' ? q.put(c.id, opts) : q.get(opts));
  };
  const checkQuiet = () => {
    const put = calls.filter((c) => c.kind === 'put' && c.state === 'done').map((c) => c.id);
    const got = calls.filter((c) => c.kind === 'get' && c.state === 'done').map((c) => c.item!);
    // Conservation: every item put is either gotten exactly once or still queued; nothing else appears.
    expect(new Set(got).size).toBe(got.length);
    expect(q.size).toBe(put.length - got.length);
    for (const item of got) expect(put).toContain(item);
    const pendingPuts = calls.filter((c) => c.kind === 'put' && c.state === 'pending').length;
    const pendingGets = calls.filter((c) => c.kind === 'get' && c.state === 'pending').length;
    if (pendingGets > 0) expect(q.size).toBe(0);
    if (pendingPuts > 0) expect(q.full()).toBe(true);
    if (strictOrder) {
      // Without aborts, items come out in the order the puts were made, to getters in arrival order.
      expect(got).toEqual([...put].slice(0, got.length));
      if (maxsize > 0) expect(q.size).toBeLessThanOrEqual(maxsize);
    }
    expectNoAbortListeners(calls);
  };

  for (const op of ops) {
    switch (op.t) {
      case 'put':
      case 'get':
        start(op.t, op.signal, op.timeout);
        break;
      case 'abort':
        abortOnePending(calls, op.i);
        break;
      case 'tick':
      case 'quiet':
        await passTime(op, checkQuiet);
        break;
    }
  }
  await quiet();
  checkQuiet();
  // Wind down: drain with getNowait, letting blocked putters in, until nobody waits.
  const drained: number[] = [];
  for (let guard = 0; guard < 10_000 && calls.some((c) => c.state === 'pending'); guard++) {
    const pendingGet = calls.some((c) => c.kind === 'get' && c.state === 'pending');
    if (pendingGet) q.putNowait(-1 - guard);
    else if (!q.empty()) drained.push(q.getNowait());
    await quiet();
  }
  expect(calls.filter((c) => c.state === 'pending')).toEqual([]);
  while (!q.empty()) drained.push(q.getNowait());
  const put = calls.filter((c) => c.kind === 'put' && c.state === 'done').map((c) => c.id);
  const got = calls.filter((c) => c.kind === 'get' && c.state === 'done' && c.item! >= 0).map((c) => c.item!);
  expect([...got, ...drained].sort((a, b) => a - b)).toEqual(put);
  expect(errors).toEqual([]);
}

describe('Queue (property)', () => {
  it('loses and duplicates no item and leaves nobody behind under random put/get/abort/timeout', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(queueOp(true), { minLength: 10, maxLength: 80 }),
        (maxsize, ops) => checkQueue(maxsize, ops, false),
      ),
      { numRuns: 150 },
    );
  });

  it('keeps FIFO order and its bound when nobody gives up', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(queueOp(false), { minLength: 10, maxLength: 80 }),
        (maxsize, ops) => checkQueue(maxsize, ops, true),
      ),
      { numRuns: 150 },
    );
  });
});

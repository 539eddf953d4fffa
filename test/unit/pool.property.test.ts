import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PoolClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { Pool } from '../../src/pool.js';
import type { PoolFactory } from '../../src/pool-options.js';

interface Res {
  id: number;
}

const createStep = fc.record({ fail: fc.boolean(), delay: fc.nat(15), ignoreSignal: fc.boolean() });
const client = fc.record({
  start: fc.nat(60),
  timeout: fc.option(fc.nat(40), { nil: undefined }),
  abortAfter: fc.option(fc.nat(40), { nil: undefined }),
  hold: fc.nat(20),
  end: fc.constantFrom('release', 'destroy', 'use', 'use-throw', 'try-release'),
});
const scenario = fc.record({
  max: fc.integer({ min: 1, max: 4 }),
  min: fc.nat(2),
  createAttempts: fc.integer({ min: 1, max: 3 }),
  maxWaiting: fc.option(fc.nat(6), { nil: undefined }),
  maxUses: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  maxLifetime: fc.option(fc.integer({ min: 5, max: 80 }), { nil: undefined }),
  creates: fc.array(createStep, { minLength: 1, maxLength: 12 }),
  validates: fc.array(fc.constantFrom(true, false, 'throw' as const), { minLength: 1, maxLength: 8 }),
  resets: fc.option(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), { nil: undefined }),
  clients: fc.array(client, { minLength: 1, maxLength: 14 }),
  closeAt: fc.option(fc.nat(120), { nil: undefined }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer U> ? U : never;

/** A factory whose every call follows the scenario, counting what it made and destroyed. */
function fakeFactory(s: Scenario) {
  const stats = { creates: 0, made: 0, destroyed: 0, live: new Set<Res>() };
  const pick = <X>(xs: readonly X[], n: number): X => xs[n % xs.length]!;
  let validates = 0;
  let resets = 0;
  const factory: PoolFactory<Res> = {
    create: (signal) =>
      new Promise<Res>((resolve, reject) => {
        const step = pick(s.creates, stats.creates++);
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          if (step.fail) return reject(new Error('create failed'));
          const r = { id: ++stats.made };
          stats.live.add(r);
          resolve(r);
        }, step.delay);
        if (!step.ignoreSignal) signal.addEventListener('abort', onAbort, { once: true });
      }),
    destroy: async (r) => {
      stats.destroyed++;
      if (!stats.live.delete(r)) throw new Error(`destroyed twice or unknown: ${r.id}`);
    },
    validate: (r) => {
      const v = pick(s.validates, validates++);
      if (v === 'throw') throw new Error(`validate ${r.id}`);
      return v;
    },
  };
  if (s.resets) {
    const list = s.resets;
    factory.reset = () => Promise.resolve(pick(list, resets++));
  }
  return { factory, stats };
}

afterEach(() => vi.useRealTimers());

/** `POOL_RUNS=5000 npx vitest run test/unit/pool.property.test.ts` for a longer hunt. */
const RUNS = Number(process.env['POOL_RUNS'] ?? 150);

describe('Pool (property)', () => {
  it(
    'keeps its invariants under random failures, delays, aborts, timeouts and closes',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          vi.useFakeTimers();
          try {
            const { factory, stats } = fakeFactory(s);
            const min = Math.min(s.min, s.max);
            const pool = new Pool<Res>(factory, {
              max: s.max,
              min,
              createAttempts: s.createAttempts,
              createBackoff: { initialDelay: 5, maxDelay: 20 },
              maxWaiting: s.maxWaiting,
              maxUses: s.maxUses,
              maxLifetime: s.maxLifetime,
              idleTimeout: 50,
              isBroken: (err) => err instanceof Error && err.message === 'broken',
              acquireTimeout: 200,
            });
            const held = new Set<Res>();
            let peak = 0;
            const violations: string[] = [];
            const checkStats = () => {
              const st = pool.stats();
              if (st.size > s.max) violations.push(`size ${st.size} > max`);
              if (st.borrowed > s.max) violations.push(`borrowed ${st.borrowed} > max`);
              if (st.created - st.destroyed !== stats.live.size) {
                violations.push(
                  `created ${st.created} − destroyed ${st.destroyed} ≠ live ${stats.live.size}`,
                );
              }
            };
            const hold = async (r: Res, ms: number) => {
              if (held.has(r)) violations.push(`resource ${r.id} lent twice`);
              held.add(r);
              peak = Math.max(peak, held.size);
              await new Promise((res) => setTimeout(res, ms));
              held.delete(r);
            };
            const aborted = new Error('aborted');
            const expected = (e: unknown) =>
              e === aborted ||
              e instanceof TimeoutError ||
              e instanceof PoolClosedError ||
              e instanceof QueueFullError ||
              (e instanceof Error && (e.message === 'create failed' || e.message === 'broken'));
            let settled = 0;
            const runs = s.clients.map(async (c) => {
              await new Promise((res) => setTimeout(res, c.start));
              const ac = c.abortAfter === undefined ? undefined : new AbortController();
              if (ac) setTimeout(() => ac.abort(aborted), c.abortAfter);
              const opts = { signal: ac?.signal, timeout: c.timeout };
              let doomed: Res | undefined;
              const mustBeGone = () => {
                if (doomed && stats.live.has(doomed))
                  violations.push(`destroyed resource ${doomed.id} still alive`);
              };
              try {
                if (c.end === 'use' || c.end === 'use-throw') {
                  await pool
                    .use(async (r) => {
                      await hold(r, c.hold);
                      if (c.end === 'use') return;
                      doomed = r;
                      throw new Error('broken');
                    }, opts)
                    .finally(mustBeGone);
                } else {
                  // 'try-release': the hot-path idiom, a synchronous borrow before the queue.
                  const lease =
                    (c.end === 'try-release' ? pool.tryAcquire() : undefined) ?? (await pool.acquire(opts));
                  await hold(lease.resource, c.hold);
                  if (c.end === 'destroy') doomed = lease.resource;
                  await (c.end === 'destroy' ? lease.destroy() : lease.release());
                  mustBeGone();
                }
              } catch (e) {
                if (!expected(e)) violations.push(`unexpected rejection: ${String(e)}`);
              } finally {
                settled++;
                checkStats();
                // Settled, so nothing of the pool may still listen on the caller's signal.
                if (ac && getEventListeners(ac.signal, 'abort').length > 0) {
                  violations.push(`abort listener left on a settled caller's signal`);
                }
              }
            });
            let closing: Promise<void> | undefined;
            if (s.closeAt !== undefined)
              setTimeout(() => {
                closing = pool.close({ timeout: 30 });
              }, s.closeAt);
            for (let t = 0; t < 2_000 && settled < runs.length; t += 5) {
              await vi.advanceTimersByTimeAsync(5);
              checkStats();
            }
            expect(settled).toBe(runs.length); // every acquire settled
            closing ??= pool.close({ timeout: 30 });
            let closed = false;
            void closing.then(() => (closed = true));
            for (let t = 0; t < 1_000 && !closed; t += 5) await vi.advanceTimersByTimeAsync(5);
            expect(closed).toBe(true);
            await closing;
            expect(violations).toEqual([]);
            expect(peak).toBeLessThanOrEqual(s.max);
            const st = pool.stats();
            expect(st).toMatchObject({ size: 0, idle: 0, borrowed: 0, pending: 0 });
            expect(st.created).toBe(stats.made);
            expect(st.destroyed).toBe(stats.destroyed);
            expect(stats.live.size).toBe(0);
          } finally {
            vi.useRealTimers();
          }
        }),
        { numRuns: RUNS },
      );
    },
    20_000 + RUNS * 20,
  );
});

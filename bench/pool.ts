/**
 * Suite `pool`: 200 000 borrow/return cycles by 64 concurrent workers on a pool of max 10 (the
 * contended case an application server lives in) — connkit `Pool.use` and `Pool.acquire`/`release`
 * (default options: 10 s acquire timeout, cancellable FIFO queue) vs raw generic-pool
 * `acquire`/`release` with the same max. Resources are plain objects, so only pool overhead is timed.
 * @module
 */
import genericPool from 'generic-pool';
import { performance } from 'node:perf_hooks';
import { Pool } from '../src/pool.js';
import type { RoundResult, Suite } from './harness.js';

const OPS = 200_000;
const WORKERS = 64;
const MAX = 10;
// Latency (request → resource in hand → returned) is sampled on every 64th cycle.
const SAMPLE_EVERY = 64;

interface Conn {
  n: number;
}

let made = 0;
const factory = {
  create: async (): Promise<Conn> => ({ n: made++ }),
  destroy: async (): Promise<void> => {},
};

/** A tick of "work" while holding the resource, so that workers really contend. */
const work = (c: Conn): Promise<void> => {
  c.n++;
  return Promise.resolve();
};

/** Runs OPS cycles spread over WORKERS concurrent loops. */
async function drive(cycle: () => Promise<void>): Promise<RoundResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < OPS) {
      const i = next++;
      if (i % SAMPLE_EVERY === 0) {
        const start = performance.now();
        await cycle();
        latenciesMs.push(performance.now() - start);
      } else {
        await cycle();
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { ops: OPS, elapsedMs: performance.now() - t0, latenciesMs };
}

let ck: Pool<Conn> | undefined;
let ckNoTimer: Pool<Conn> | undefined;
let ckLease: Pool<Conn> | undefined;
let gp: genericPool.Pool<Conn> | undefined;

export const suite: Suite = {
  name: 'pool',
  description: `${OPS} borrow/return cycles, ${WORKERS} concurrent workers, max ${MAX} (ops/s = cycles/s)`,
  contenders: [
    {
      name: 'connkit Pool.use',
      setup: () => {
        ck = new Pool<Conn>(factory, { max: MAX });
      },
      run: () => drive(() => ck!.use(work)),
      teardown: () => ck?.close(),
    },
    {
      // Without a deadline queued callers arm no timer at all (with one, callers with the same timeout
      // share a single timer): shows what deadlines cost.
      name: 'connkit Pool.use, no timeout',
      setup: () => {
        ckNoTimer = new Pool<Conn>(factory, { max: MAX, acquireTimeout: Infinity });
      },
      run: () => drive(() => ckNoTimer!.use(work)),
      teardown: () => ckNoTimer?.close(),
    },
    {
      name: 'connkit acquire/release',
      setup: () => {
        ckLease = new Pool<Conn>(factory, { max: MAX });
      },
      run: () =>
        drive(async () => {
          const lease = await ckLease!.acquire();
          await work(lease.resource);
          await lease.release();
        }),
      teardown: () => ckLease?.close(),
    },
    {
      name: 'generic-pool acquire/release',
      setup: () => {
        gp = genericPool.createPool<Conn>(factory, { max: MAX });
      },
      run: () =>
        drive(async () => {
          const c = await gp!.acquire();
          await work(c);
          await gp!.release(c);
        }),
      teardown: async () => {
        await gp?.drain();
        await gp?.clear();
      },
    },
  ],
};

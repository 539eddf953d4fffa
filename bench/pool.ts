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
import { scalingChart } from './_chart.js';
import type { ScalingPoint } from './_chart.js';
import { refCounted, startClock } from './harness.js';
import type { Contender, RoundResult, Suite } from './harness.js';

const OPS = 200_000;
/** Concurrent workers: uncontended (1: a resource is always idle) and contended (64 for 10). */
const WORKERS = [1, 64];
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

/** Runs OPS cycles spread over `workers` concurrent loops. */
async function drive(workers: number, cycle: () => Promise<void>): Promise<RoundResult> {
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
  const clock = startClock();
  await Promise.all(Array.from({ length: workers }, worker));
  return { ops: OPS, ...clock.read(), latenciesMs };
}

/** A pool under test, shared by its contenders at every level (opened once, closed once). */
function shared<P>(open: () => P, close: (pool: P) => Promise<void>) {
  let pool: P | undefined;
  const rc = refCounted(
    () => void (pool = open()),
    () => close(pool!),
  );
  return { get: () => pool!, ...rc };
}

const ck = shared(
  () => new Pool<Conn>(factory, { max: MAX }),
  (p) => p.close(),
);
// Without a deadline queued callers arm no timer at all (with one, callers with the same timeout
// share a single timer): shows what deadlines cost.
const ckNoTimer = shared(
  () => new Pool<Conn>(factory, { max: MAX, acquireTimeout: Infinity }),
  (p) => p.close(),
);
const gp = shared(
  () => genericPool.createPool<Conn>(factory, { max: MAX }),
  async (p) => {
    await p.drain();
    await p.clear();
  },
);

type Shared = ReturnType<typeof shared>;
const libraries: [name: string, pool: Shared, cycle: () => Promise<void>][] = [
  ['connkit Pool.use', ck, () => ck.get().use(work)],
  ['connkit Pool.use, no timeout', ckNoTimer, () => ckNoTimer.get().use(work)],
  [
    'connkit acquire/release',
    ck,
    async () => {
      const lease = await ck.get().acquire();
      await work(lease.resource);
      await lease.release();
    },
  ],
  [
    'generic-pool acquire/release',
    gp,
    async () => {
      const c = await gp.get().acquire();
      await work(c);
      await gp.get().release(c);
    },
  ],
];

const contenders: Contender[] = [];
const points: ScalingPoint[] = [];
for (const workers of WORKERS) {
  for (const [library, pool, cycle] of libraries) {
    const name = `${library} · ${workers} worker${workers === 1 ? '' : 's'}`;
    contenders.push({ name, setup: pool.setup, run: () => drive(workers, cycle), teardown: pool.teardown });
    points.push({ library, level: workers, contender: name });
  }
}

export const suite: Suite = {
  name: 'pool',
  description: `${OPS} borrow/return cycles by ${WORKERS.join(' and ')} concurrent workers, max ${MAX} (ops/s = cycles/s)`,
  contenders,
  report: (result) => scalingChart(result, points, 'workers'),
};

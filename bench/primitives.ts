/**
 * Suite `primitives`: 200 000 no-op async tasks behind a limit of 8 — connkit `Semaphore.use` vs
 * async-sema, p-limit and async-mutex — plus the heap cost of 100 000 pending waiters.
 * @module
 */
import { Semaphore as MutexSemaphore } from 'async-mutex';
import { Sema } from 'async-sema';
import pLimit from 'p-limit';
import { performance } from 'node:perf_hooks';
import { Semaphore } from '../src/semaphore.js';
import { heapBytesPer } from './harness.js';
import { startClock } from './harness.js';
import type { Metric, RoundResult, Suite } from './harness.js';

const TASKS = 200_000;
// async-mutex keeps its waiters in an array it `shift()`s: O(n²) in the queue length (200 000 tasks take
// minutes), so it runs a tenth of the tasks; its ops/s at that size flatters it, if anything.
const TASKS_ASYNC_MUTEX = 20_000;
const LIMIT = 8;
const WAITERS = 100_000;
// Latency is sampled (submission → completion) on every 64th task so that timing costs stay negligible.
const SAMPLE_EVERY = 64;

const noop = async (): Promise<void> => {};

/** Submits `tasks` tasks through `submit` at once and waits for all of them. */
async function burst(submit: () => Promise<unknown>, tasks = TASKS): Promise<RoundResult> {
  const pending = new Array<Promise<unknown>>(tasks);
  const latenciesMs: number[] = [];
  const clock = startClock();
  for (let i = 0; i < tasks; i++) {
    if (i % SAMPLE_EVERY === 0) {
      const start = performance.now();
      pending[i] = submit().then(() => {
        latenciesMs.push(performance.now() - start);
      });
    } else {
      pending[i] = submit();
    }
  }
  await Promise.all(pending);
  return { ops: tasks, ...clock.read(), latenciesMs };
}

async function memory(): Promise<Metric[]> {
  const acquire: Record<string, number> = {};
  const use: Record<string, number> = {};

  {
    const sem = new Semaphore(0);
    acquire['connkit'] = await heapBytesPer(
      WAITERS,
      () => sem.acquire(),
      () => {
        for (let i = 0; i < WAITERS; i++) sem.release();
      },
    );
    // Every waiter on one long-lived signal (e.g. a service's shutdown signal).
    const ac = new AbortController();
    const withSignal = new Semaphore(0);
    acquire['connkit (shared signal)'] = await heapBytesPer(
      WAITERS,
      () => withSignal.acquire({ signal: ac.signal }),
      () => {
        for (let i = 0; i < WAITERS; i++) withSignal.release();
      },
    );
    const useSem = new Semaphore(0);
    use['connkit'] = await heapBytesPer(
      WAITERS,
      () => useSem.use(noop),
      () => useSem.release(),
    );
  }
  {
    const sema = new Sema(1);
    await sema.acquire();
    acquire['async-sema'] = await heapBytesPer(
      WAITERS,
      () => sema.acquire(),
      () => {
        for (let i = 0; i <= WAITERS; i++) sema.release();
      },
    );
  }
  {
    let unblock!: () => void;
    const limit = pLimit(1);
    void limit(() => new Promise<void>((r) => (unblock = r)));
    await new Promise((r) => setImmediate(r));
    use['p-limit'] = await heapBytesPer(
      WAITERS,
      () => limit(noop),
      () => unblock(),
    );
  }
  {
    // async-mutex dequeues with Array#shift (O(n) each), so its waiters are cancelled, not released.
    const sem = new MutexSemaphore(0);
    acquire['async-mutex'] = await heapBytesPer(
      WAITERS,
      () => sem.acquire(),
      (kept) => {
        for (const p of kept) p.catch(() => undefined);
        sem.cancel();
      },
    );
    const useSem = new MutexSemaphore(0);
    use['async-mutex'] = await heapBytesPer(
      WAITERS,
      () => useSem.runExclusive(noop),
      (kept) => {
        for (const p of kept) p.catch(() => undefined);
        useSem.cancel();
      },
    );
  }
  return [
    { name: `heap B / pending acquire() (${WAITERS / 1000}k waiting)`, better: 'lower', values: acquire },
    { name: `heap B / pending use(fn) (${WAITERS / 1000}k waiting)`, better: 'lower', values: use },
  ];
}

/** The suite run by `npm run bench -- primitives`. */
export const suite: Suite = {
  name: 'primitives',
  description: `${TASKS.toLocaleString('en-US')} no-op async tasks behind a limit of ${LIMIT}`,
  rounds: 5,
  contenders: [
    {
      name: 'connkit Semaphore.use',
      run: () => {
        const sem = new Semaphore(LIMIT);
        return burst(() => sem.use(noop));
      },
    },
    {
      name: 'async-sema Sema',
      run: () => {
        const sema = new Sema(LIMIT);
        return burst(async () => {
          await sema.acquire();
          try {
            await noop();
          } finally {
            sema.release();
          }
        });
      },
    },
    {
      name: 'p-limit',
      run: () => {
        const limit = pLimit(LIMIT);
        return burst(() => limit(noop));
      },
    },
    {
      name: `async-mutex Semaphore.runExclusive (${TASKS_ASYNC_MUTEX / 1000}k tasks)`,
      run: () => {
        const sem = new MutexSemaphore(LIMIT);
        return burst(() => sem.runExclusive(noop), TASKS_ASYNC_MUTEX);
      },
    },
  ],
  metrics: memory,
};

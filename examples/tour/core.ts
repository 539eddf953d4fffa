import { Queue, Semaphore, TaskGroup, TimeoutError, sleep, waitFor } from 'connkit';

// Structured concurrency: the first failure aborts the siblings; nothing is left running.
const results = await TaskGroup.run(async (tg) => {
  const a = tg.spawn((signal) => sleep(10, { signal }).then(() => 'a'));
  const b = tg.spawn((signal) => sleep(20, { signal }).then(() => 'b'));
  return [await a, await b];
});

// Every wait takes a signal and a timeout; a timed-out waiter leaves nothing behind.
const limit = new Semaphore(8);
await limit.use(() => sleep(5), { timeout: 1000 });
try {
  await waitFor((signal) => sleep(10_000, { signal }), 50);
} catch (err) {
  if (!(err instanceof TimeoutError)) throw err;
}

// asyncio.Queue with Python 3.13 shutdown; async iteration ends once shut down and drained.
const jobs = new Queue<number>({ maxsize: 100 });
for (const n of [1, 2, 3]) await jobs.put(n);
jobs.shutdown();
for await (const n of jobs) console.log('job', n, results);

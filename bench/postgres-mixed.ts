/**
 * Suite `postgres-mixed`: what a few slow statements among many fast ones cost — 64 callers, 99 %
 * `select $1::int` and 1 % `select pg_sleep(0.05)` (every 100th statement, so each library gets the
 * same mix). This is where head-of-line blocking shows: on a pipelined connection, statements written
 * behind a slow one wait for it; on a pool, a slow statement holds a connection the fast ones queue
 * for. Throughput counts the fast statements, latency is measured on every fast statement (slow ones
 * are left out of both).
 * @module
 */
import { performance } from 'node:perf_hooks';
import { CALLERS, CONNECTIONS, libraries, type Statement } from './_postgres-common.js';
import { startClock } from './harness.js';
import type { Contender, RoundResult, Suite } from './harness.js';

/** Statements per round (all callers together), 1 % of them slow. */
const PER_ROUND = 10_000;
const SLOW_EVERY = 100;

const FAST: Statement = {
  text: 'select $1::int as v',
  value: (i) => i,
  tagged: (sql, v) => sql`select ${v as number}::int as v`,
};
const SLOW: Statement = {
  text: 'select pg_sleep(0.05)',
  tagged: (sql) => sql`select pg_sleep(0.05)`,
};

async function driveMixed(call: (s: Statement, i: number) => Promise<unknown>): Promise<RoundResult> {
  let next = 0;
  let fast = 0;
  const latenciesMs: number[] = [];
  const clock = startClock();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < PER_ROUND; i = next++) {
      if (i % SLOW_EVERY === SLOW_EVERY - 1) {
        await call(SLOW, i);
        continue;
      }
      const s = performance.now();
      await call(FAST, i);
      latenciesMs.push(performance.now() - s);
      fast++;
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, worker));
  return { ops: fast, ...clock.read(), latenciesMs };
}

export const suite: Suite = {
  name: 'postgres-mixed',
  description: `99 % select $1::int + 1 % select pg_sleep(0.05): ${CALLERS} concurrent callers, ${CONNECTIONS} pooled connections (+2 pipelined for connkit's default), ${PER_ROUND} statements/round; ops/s and latency of the fast statements`,
  rounds: 5,
  maxTimeMs: 90_000,
  settleMs: 100,
  contenders: libraries().map(([label, client]): Contender => ({
    name: label,
    setup: () => client.open(),
    run: () => driveMixed((s, i) => client.query(s, i)),
    teardown: () => client.close(),
  })),
};

/**
 * Shared by the PostgreSQL suites (`postgres`, `postgres-rows`): the same workload — 64 concurrent
 * callers issuing one query after another — through connkit's Database (pipeline mode on and off),
 * raw `pg.Pool` and postgres.js, each with 10 pooled connections.
 * @module
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import postgres from 'postgres';
import { Database } from '../adapters/postgres/index.js';
import type { Contender, RoundResult, Suite } from './harness.js';

const URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const CALLERS = 64;
const CONNECTIONS = 10;
const SAMPLE_EVERY = 16;

/** A query under test: text with `$1`, and the value each call passes. */
export interface Workload {
  name: string;
  description: string;
  text: string;
  value: (i: number) => unknown;
  /** Queries per round (all callers together). */
  perRound: number;
}

async function drive(perRound: number, call: (i: number) => Promise<unknown>): Promise<RoundResult> {
  let next = 0;
  const latenciesMs: number[] = [];
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < perRound; i = next++) {
      if (i % SAMPLE_EVERY === 0) {
        const s = performance.now();
        await call(i);
        latenciesMs.push(performance.now() - s);
      } else await call(i);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, worker));
  return { ops: perRound, elapsedMs: performance.now() - t0, latenciesMs };
}

function connkit(w: Workload, name: string, pipeline: false | { connections: number }): Contender {
  let db: Database | undefined;
  return {
    name,
    setup: () => {
      db = new Database({ url: URL, pool: { max: CONNECTIONS }, pipeline, applicationName: 'bench_connkit' });
    },
    run: () => drive(w.perRound, (i) => db!.query(w.text, [w.value(i)])),
    teardown: () => db?.close(),
  };
}

/** The suite for one workload. */
export function postgresSuite(w: Workload): Suite {
  let pool: pg.Pool | undefined;
  let sql: postgres.Sql | undefined;
  return {
    name: w.name,
    description: `${w.description}: ${CALLERS} concurrent callers, ${CONNECTIONS} connections, ${w.perRound} queries/round`,
    rounds: 5,
    maxTimeMs: 90_000,
    contenders: [
      connkit(w, 'connkit Database (pipeline, 2 conns)', { connections: 2 }),
      connkit(w, 'connkit Database (pipeline off)', false),
      {
        name: 'pg.Pool',
        setup: () => {
          pool = new pg.Pool({ connectionString: URL, max: CONNECTIONS, application_name: 'bench_pg' });
          pool.on('error', () => undefined);
        },
        run: () => drive(w.perRound, (i) => pool!.query(w.text, [w.value(i)])),
        teardown: () => pool?.end(),
      },
      {
        name: 'postgres.js',
        setup: () => {
          sql = postgres(URL, { max: CONNECTIONS, connection: { application_name: 'bench_postgresjs' } });
        },
        run: () => drive(w.perRound, (i) => sql!.unsafe(w.text, [w.value(i) as string])),
        teardown: () => sql?.end(),
      },
    ],
  };
}

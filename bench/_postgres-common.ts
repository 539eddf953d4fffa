/**
 * Shared by the PostgreSQL suites (`postgres`, `postgres-rows`, `postgres-scaling`): concurrent
 * callers issuing one query after another — through connkit's Database (pipeline mode on and off),
 * raw `pg.Pool` and postgres.js, each with 10 pooled connections (64 callers unless a suite varies it).
 * @module
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import postgres from 'postgres';
import { Database } from '../adapters/postgres/index.js';
import { benchServices } from './_services.js';
import { refCounted, startClock } from './harness.js';
import type { Contender, RoundResult, Suite } from './harness.js';

/** PostgreSQL of this run (see `_services.ts`). */
export const DATABASE_URL = (await benchServices()).databaseUrl;
/** Concurrent callers of the `postgres` and `postgres-rows` suites. */
export const CALLERS = 64;
/** Pooled connections of every library (connkit's pipeline mode uses 2). */
export const CONNECTIONS = 10;
const SAMPLE_EVERY = 16;

/** A query under test: text with `$1`, and the value each call passes. */
export interface Workload {
  name: string;
  description: string;
  text: string;
  value: (i: number) => unknown;
  /** Queries per round (all callers together). */
  perRound: number;
  /** Concurrent callers. @default 64 */
  callers?: number;
}

/** Runs `perRound` calls spread over `callers` concurrent loops, sampling one latency in 16. */
export async function drive(
  perRound: number,
  callers: number,
  call: (i: number) => Promise<unknown>,
): Promise<RoundResult> {
  let next = 0;
  const latenciesMs: number[] = [];
  const clock = startClock();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < perRound; i = next++) {
      if (i % SAMPLE_EVERY === 0) {
        const s = performance.now();
        await call(i);
        latenciesMs.push(performance.now() - s);
      } else await call(i);
    }
  };
  await Promise.all(Array.from({ length: callers }, worker));
  return { ops: perRound, ...clock.read(), latenciesMs };
}

/** A client library under test: opened in a contender's setup, closed in its teardown. */
export interface Client {
  open(): void | Promise<void>;
  query(text: string, value: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** connkit `Database.query` with pipeline mode off (`false`) or on over `{ connections }`. */
export function connkitClient(pipeline: false | { connections: number }): Client {
  let db: Database | undefined;
  return {
    open: () => {
      db = new Database({
        url: DATABASE_URL,
        pool: { max: CONNECTIONS },
        pipeline,
        applicationName: 'bench_connkit',
      });
    },
    query: (text, value) => db!.query(text, [value]),
    close: async () => db?.close(),
  };
}

/** Raw `pg.Pool.query`. */
export function pgPoolClient(): Client {
  let pool: pg.Pool | undefined;
  return {
    open: () => {
      pool = new pg.Pool({ connectionString: DATABASE_URL, max: CONNECTIONS, application_name: 'bench_pg' });
      pool.on('error', () => undefined);
    },
    query: (text, value) => pool!.query(text, [value]),
    close: async () => pool?.end(),
  };
}

/** postgres.js `sql.unsafe` with parameters. */
export function postgresJsClient(): Client {
  let sql: postgres.Sql | undefined;
  return {
    open: () => {
      sql = postgres(DATABASE_URL, {
        max: CONNECTIONS,
        connection: { application_name: 'bench_postgresjs' },
      });
    },
    query: (text, value) => sql!.unsafe(text, [value as string]),
    close: async () => sql?.end(),
  };
}

/**
 * One client shared by several contenders (e.g. the same pool at several concurrencies), so the
 * server sees one pool's connections, not one per contender: opened by the first setup, closed by
 * the last teardown.
 */
export function sharedClient(client: Client): Client {
  const shared = refCounted(
    () => client.open(),
    () => client.close(),
  );
  return { open: shared.setup, query: (text, value) => client.query(text, value), close: shared.teardown };
}

/** A contender running workload `w` through `client`. */
export function clientContender(w: Workload, name: string, client: Client): Contender {
  return {
    name,
    setup: () => client.open(),
    run: () => drive(w.perRound, w.callers ?? CALLERS, (i) => client.query(w.text, w.value(i))),
    teardown: () => client.close(),
  };
}

/** The suite for one workload. */
export function postgresSuite(w: Workload): Suite {
  return {
    name: w.name,
    description: `${w.description}: ${w.callers ?? CALLERS} concurrent callers, ${CONNECTIONS} connections, ${w.perRound} queries/round`,
    rounds: 5,
    maxTimeMs: 90_000,
    settleMs: 100,
    contenders: [
      clientContender(w, 'connkit Database (pipeline, 2 conns)', connkitClient({ connections: 2 })),
      clientContender(w, 'connkit Database (pipeline off)', connkitClient(false)),
      clientContender(w, 'pg.Pool', pgPoolClient()),
      clientContender(w, 'postgres.js', postgresJsClient()),
    ],
  };
}

/**
 * Shared by the PostgreSQL suites (`postgres`, `postgres-rows`, `postgres-scaling`, `postgres-mixed`):
 * concurrent callers issuing one statement after another — through connkit's Database as users get it
 * (`new Database({ url })`: pipelined) and with `pipeline: false`, raw `pg.Pool` (`pool.query`) and
 * postgres.js (tagged templates, its prepared statements), each written the way its documentation
 * shows and with its default pool of 10 connections (64 callers unless a suite varies it).
 * @module
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import postgres from 'postgres';
import { Database, type DatabaseOptions } from '../adapters/postgres/index.js';
import { benchServices } from './_services.js';
import { refCounted, startClock } from './harness.js';
import type { Contender, RoundResult, Suite } from './harness.js';

/** PostgreSQL of this run (see `_services.ts`). */
export const DATABASE_URL = (await benchServices()).databaseUrl;
/** Concurrent callers of the `postgres`, `postgres-rows` and `postgres-mixed` suites. */
export const CALLERS = 64;
/** Pooled connections of every library (the default of pg.Pool, postgres.js and connkit). */
export const CONNECTIONS = 10;
const SAMPLE_EVERY = 16;

/**
 * One statement under test, written for each library: SQL text with `$1` for connkit and pg, and
 * the same statement as a postgres.js tagged template (which postgres.js prepares and reuses).
 */
export interface Statement {
  text: string;
  /** `undefined`: the statement takes no parameter. */
  value?: (i: number) => unknown;
  tagged: (sql: postgres.Sql, value: unknown) => postgres.PendingQuery<postgres.Row[]>;
}

/** A workload: one statement, run `perRound` times per round by `callers` concurrent loops. */
export interface Workload extends Statement {
  name: string;
  description: string;
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
  query(statement: Statement, i: number): Promise<unknown>;
  close(): Promise<void>;
}

/** connkit `Database.query` — `{}`: as users get it (pipelined); `{ pipeline: false }`: pooled only. */
export function connkitClient(options: Omit<DatabaseOptions, 'url'> = {}): Client {
  let db: Database | undefined;
  return {
    open: () => {
      db = new Database({ url: DATABASE_URL, applicationName: 'bench_connkit', ...options });
    },
    query: (s, i) => (s.value ? db!.query(s.text, [s.value(i)]) : db!.query(s.text)),
    close: async () => db?.close(),
  };
}

/** Raw `pg.Pool.query`, the pool's documented one-call path. */
export function pgPoolClient(): Client {
  let pool: pg.Pool | undefined;
  return {
    open: () => {
      pool = new pg.Pool({ connectionString: DATABASE_URL, max: CONNECTIONS, application_name: 'bench_pg' });
      pool.on('error', () => undefined);
    },
    query: (s, i) => (s.value ? pool!.query(s.text, [s.value(i)]) : pool!.query(s.text)),
    close: async () => pool?.end(),
  };
}

/**
 * postgres.js the way its README writes queries: tagged templates, which it prepares on each
 * connection and reuses (`prepare: true`, its default), `max: 10` (its default).
 */
export function postgresJsClient(): Client {
  let sql: postgres.Sql | undefined;
  return {
    open: () => {
      sql = postgres(DATABASE_URL, {
        max: CONNECTIONS,
        connection: { application_name: 'bench_postgresjs' },
      });
    },
    query: (s, i) => s.tagged(sql!, s.value?.(i)),
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
  return { open: shared.setup, query: (s, i) => client.query(s, i), close: shared.teardown };
}

/** A contender running workload `w` through `client`. */
export function clientContender(w: Workload, name: string, client: Client): Contender {
  return {
    name,
    setup: () => client.open(),
    run: () => drive(w.perRound, w.callers ?? CALLERS, (i) => client.query(w, i)),
    teardown: () => client.close(),
  };
}

/** The contenders of every PostgreSQL suite, first the subject: connkit as users get it. */
export function libraries(): [label: string, client: Client][] {
  return [
    ['connkit (default)', connkitClient()],
    ['connkit (pipeline: false)', connkitClient({ pipeline: false })],
    ['pg.Pool', pgPoolClient()],
    ['postgres.js (tagged, prepared)', postgresJsClient()],
  ];
}

/** The suite for one workload. */
export function postgresSuite(w: Workload): Suite {
  return {
    name: w.name,
    description: `${w.description}: ${w.callers ?? CALLERS} concurrent callers, ${CONNECTIONS} pooled connections (+2 pipelined for connkit's default), ${w.perRound} queries/round`,
    rounds: 5,
    maxTimeMs: 90_000,
    settleMs: 100,
    contenders: libraries().map(([label, client]) => clientContender(w, label, client)),
  };
}

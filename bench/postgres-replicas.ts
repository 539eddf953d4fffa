/**
 * Suite `postgres-replicas`: `readOnly` queries spread over a primary and its streaming standby vs the
 * same queries on one server. It starts its own pair (the HA test harness, test/support/pg-cluster:
 * `initdb`, a primary, a `pg_basebackup` standby, in a temp dir on free ports, stopped afterwards) and
 * prints why it skips when the PostgreSQL server programs are missing.
 *
 * Contenders, each a connkit `Database` with `{ readOnly: true }` on every query, every server as
 * users get it (standalone reads pipelined on 2 shared connections, a pool of 10), 64 concurrent
 * callers:
 * - reads over both servers: `replicas: [standby, primary]` (the primary listed as a replica too);
 * - reads on the standby alone: `replicas: [standby]`;
 * - one server: no replicas (readOnly work runs on the primary).
 * Two workloads: `select $1::int` (client-bound: Node's CPU is the limit) and an aggregate over
 * 20 000 rows (server-bound). On a 2-core machine the two servers and Node share the same cores, so
 * a second server cannot double throughput; the table says what it does buy.
 * @module
 */
import { Database, type DatabaseOptions } from '../adapters/postgres/index.js';
import { findPgPrograms, type PgPrograms } from '../test/support/pg-cluster/binaries.js';
import type { LocalPgCluster } from '../test/support/pg-cluster/local-cluster.js';
import { startLocalCluster, type StartedLocalCluster } from '../test/support/pg-cluster/local-lifecycle.js';
import { queryOnce } from '../test/support/pg-cluster/sql.js';
import { progress, refCounted, startClock } from './harness.js';
import type { Contender, RoundResult, Suite, SuiteResult } from './harness.js';

const CALLERS = 64;
const CONNECTIONS = 10;
const SAMPLE_EVERY = 16;
const TABLE = 'bench_replica_rows';

const programs = findPgPrograms();
const missing = typeof programs === 'string' ? programs : undefined;
let started: StartedLocalCluster | undefined;
const pair = refCounted(
  async () => {
    progress('[postgres-replicas] starting a primary + streaming standby…');
    started = await startLocalCluster(programs as PgPrograms, {
      log: (line) => progress(`[postgres-replicas] ${line}`),
    });
    const c = started.cluster;
    await queryOnce(
      c.url('a'),
      `create table ${TABLE} as select g as id, g % 97 as k, md5(g::text) as v from generate_series(1, 20000) g`,
    );
    // Hint bits and the visibility map set on the primary reach the standby through the WAL.
    await queryOnce(c.url('a'), `vacuum analyze ${TABLE}`);
    await c.waitCaughtUp('b');
  },
  async () => {
    await started?.stop();
    started = undefined;
  },
);

interface Workload {
  label: string;
  text: string;
  perRound: number;
}
const WORKLOADS: Workload[] = [
  { label: 'select $1::int', text: 'select $1::int as v', perRound: 6_000 },
  {
    label: 'aggregate over 20 000 rows',
    text: `select k, count(*), max(v) from ${TABLE} where id > $1::int % 7 group by k`,
    perRound: 800,
  },
];

type Layout = (c: LocalPgCluster) => DatabaseOptions;
const LAYOUTS: [name: string, layout: Layout][] = [
  ['reads over primary + standby', (c) => ({ url: c.url('a'), replicas: [c.url('b'), c.url('a')] })],
  ['reads on the standby alone', (c) => ({ url: c.url('a'), replicas: [c.url('b')] })],
  ['one server (no replicas)', (c) => ({ url: c.url('a') })],
];

async function drive(db: Database, w: Workload): Promise<RoundResult> {
  let next = 0;
  const latenciesMs: number[] = [];
  const clock = startClock();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < w.perRound; i = next++) {
      const t0 = i % SAMPLE_EVERY === 0 ? performance.now() : undefined;
      await db.query(w.text, [i], { readOnly: true });
      if (t0 !== undefined) latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, worker));
  return { ops: w.perRound, ...clock.read(), latenciesMs };
}

function contender(w: Workload, name: string, layout: Layout): Contender {
  let db: Database | undefined;
  return {
    name: `${name} · ${w.label}`,
    setup: async () => {
      await pair.setup();
      db = new Database({
        ...layout(started!.cluster),
        pool: { max: CONNECTIONS },
        applicationName: 'bench_replicas',
      });
    },
    run: () => drive(db!, w),
    teardown: async () => {
      await db?.close();
      await pair.teardown();
    },
  };
}

const contenders: Contender[] = [];
if (missing === undefined) {
  for (const w of WORKLOADS)
    for (const [name, layout] of LAYOUTS) contenders.push(contender(w, name, layout));
} else progress(`[postgres-replicas] skipped: ${missing}`);

export const suite: Suite = {
  name: 'postgres-replicas',
  description: missing
    ? `skipped: ${missing}`
    : `readOnly queries, ${CALLERS} concurrent callers, ${CONNECTIONS} connections per server, on a primary + streaming standby started for the suite (same machine: the servers share its cores)`,
  rounds: 5,
  maxTimeMs: 90_000,
  settleMs: 100,
  contenders,
  report: (result) => (missing ? `postgres-replicas skipped: ${missing}` : perWorkload(result)),
};

/** Within each workload, each layout's median throughput against one server's (the table's ratio column mixes workloads). */
function perWorkload(result: SuiteResult): string {
  const ops = (name: string) => result.contenders.find((c) => c.name === name)?.opsPerSec ?? NaN;
  const lines = WORKLOADS.map((w) => {
    const one = ops(`${LAYOUTS[2]![0]} · ${w.label}`);
    const rel = LAYOUTS.slice(0, 2).map(([n]) => `${n}: ${(ops(`${n} · ${w.label}`) / one).toFixed(2)}×`);
    return `- ${w.label}: ${rel.join(', ')} the throughput of one server`;
  });
  return `Per workload, against one server:\n${lines.join('\n')}`;
}

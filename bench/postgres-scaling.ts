/**
 * Suite `postgres-scaling`: the `select $1::int` workload of suite `postgres` at 1, 8, 64 and 256
 * concurrent callers (10 pooled connections each) — connkit Database (default: pipelined; and
 * `pipeline: false`) vs raw pg.Pool and postgres.js (tagged template, prepared) — plus pgbench (C/libpq, a separate process,
 * min(callers, 10) client connections) when it is on PATH. Few rounds and small per-round counts keep
 * it under ~2 minutes; a bar chart of median ops/s per library and concurrency follows the table.
 * @module
 */
import { scalingChart } from './_chart.js';
import type { ScalingPoint } from './_chart.js';
import { pgbenchContender, pgbenchMissing } from './_pgbench.js';
import { clientContender, CONNECTIONS, DATABASE_URL, libraries, sharedClient } from './_postgres-common.js';
import type { Workload } from './_postgres-common.js';
import { progress } from './harness.js';
import type { Contender, Suite } from './harness.js';

/** Concurrent callers, and queries per round at that concurrency (~0.5–1 s a round). */
const LEVELS: ReadonlyArray<readonly [callers: number, perRound: number]> = [
  [1, 3_000],
  [8, 4_000],
  [64, 6_000],
  [256, 6_000],
];
/** Seconds per pgbench round (pgbench -T takes whole seconds). */
const PGBENCH_SECONDS = 1;

const missing = pgbenchMissing();
// One client per library for every concurrency: 4 pools of 10, not 16 (the server allows ~100).
const clients = libraries().map(([label, client]) => [label, sharedClient(client)] as const);
const contenders: Contender[] = [];
const points: ScalingPoint[] = [];

for (const [callers, perRound] of LEVELS) {
  const w: Workload = {
    name: 'postgres-scaling',
    description: 'select $1::int',
    text: 'select $1::int as v',
    value: (i) => i,
    tagged: (sql, v) => sql`select ${v as number}::int as v`,
    perRound,
    callers,
  };
  const add = (library: string, make: (name: string) => Contender): void => {
    const name = `${library} · ${callers} callers`;
    contenders.push(make(name));
    points.push({ library, level: callers, contender: name });
  };
  for (const [label, client] of clients) add(label, (n) => clientContender(w, n, client));
  if (!missing) {
    const conns = Math.min(callers, CONNECTIONS);
    add(`pgbench (C, -c ${conns})`, (n) => pgbenchContender(n, DATABASE_URL, conns, PGBENCH_SECONDS));
  }
}
if (missing) progress(`[postgres-scaling] ${missing}`);

export const suite: Suite = {
  name: 'postgres-scaling',
  description: `select $1::int at ${LEVELS.map(([c]) => c).join('/')} concurrent callers, ${CONNECTIONS} connections${missing ? ' (no pgbench row)' : '; pgbench = C/libpq in a separate process, -M extended, -j 2'}`,
  rounds: 5,
  maxTimeMs: 100_000,
  settleMs: 100,
  contenders,
  report: (result) => {
    const chart = scalingChart(result, points, 'callers');
    return missing ? `${chart}\n${missing}` : chart;
  },
};

/**
 * Suite `postgres`: `select $1` — connkit Database (default: pipelined; and `pipeline: false`) vs raw
 * pg.Pool vs postgres.js (tagged template, prepared), plus pgbench (C/libpq in a separate process, 10
 * connections) when it is on PATH.
 * The 100-row variant is suite `postgres-rows`; the same query at 1–256 callers is `postgres-scaling`.
 * @module
 */
import { pgbenchContender, pgbenchMissing } from './_pgbench.js';
import { CONNECTIONS, DATABASE_URL, postgresSuite } from './_postgres-common.js';
import { progress } from './harness.js';
import type { Suite } from './harness.js';

const base = postgresSuite({
  name: 'postgres',
  description: 'select $1::int',
  text: 'select $1::int as v',
  value: (i) => i,
  tagged: (sql, v) => sql`select ${v as number}::int as v`,
  perRound: 20_000,
});
const missing = pgbenchMissing();
if (missing) progress(`[postgres] ${missing}`);

export const suite: Suite = missing
  ? { ...base, report: () => missing }
  : {
      ...base,
      contenders: [
        ...base.contenders,
        pgbenchContender(
          `pgbench (C/libpq, separate process, -c ${CONNECTIONS})`,
          DATABASE_URL,
          CONNECTIONS,
          2,
        ),
      ],
    };

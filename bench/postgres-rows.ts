/**
 * Suite `postgres-rows`: a 100-row result per query — connkit Database (default: pipelined; and
 * `pipeline: false`) vs raw pg.Pool vs postgres.js (tagged template, prepared).
 * @module
 */
import { postgresSuite } from './_postgres-common.js';

export const suite = postgresSuite({
  name: 'postgres-rows',
  description: '100 rows (id, name, created) per query',
  text: "select g as id, 'name-' || g as name, now() as created from generate_series(1, 100 + $1::int % 1) g",
  value: (i) => i,
  tagged: (sql, v) =>
    sql`select g as id, 'name-' || g as name, now() as created from generate_series(1, 100 + ${v as number}::int % 1) g`,
  perRound: 4_000,
});

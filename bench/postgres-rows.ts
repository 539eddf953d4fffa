/**
 * Suite `postgres-rows`: a 100-row result per query — connkit Database (pipeline on/off) vs raw
 * pg.Pool vs postgres.js.
 * @module
 */
import { postgresSuite } from './_postgres-common.js';

export const suite = postgresSuite({
  name: 'postgres-rows',
  description: '100 rows (id, name, created) per query',
  text: "select g as id, 'name-' || g as name, now() as created from generate_series(1, 100 + $1::int % 1) g",
  value: (i) => i,
  perRound: 4_000,
});

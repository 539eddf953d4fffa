/**
 * Suite `postgres`: `select $1` — connkit Database (pipeline on/off) vs raw pg.Pool vs postgres.js.
 * The 100-row variant is suite `postgres-rows`.
 * @module
 */
import { postgresSuite } from './_postgres-common.js';

export const suite = postgresSuite({
  name: 'postgres',
  description: 'select $1::int',
  text: 'select $1::int as v',
  value: (i) => i,
  perRound: 20_000,
});

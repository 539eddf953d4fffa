import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../adapters/postgres/sql.js';
import { uniqueName } from '../../support/names.js';
import { createTestSchema } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';

let schema: { name: string; drop(): Promise<void> };
let client: pg.Client;

beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  client = new pg.Client({ connectionString: databaseUrl() });
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await schema?.drop();
});

const run = <R extends pg.QueryResultRow>(q: { text: string; values: unknown[] }) =>
  client.query<R>(q.text, q.values);

describe('sql``', () => {
  it('round-trips arbitrary strings through insert … returning unchanged', async () => {
    const table = sql.id([schema.name, uniqueName('roundtrip')]);
    await run(sql`create table ${table} (id serial primary key, s text not null)`);
    const nulFree = fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => !s.includes('\0'));
    const tricky = fc.constantFrom(
      "'",
      "''",
      '\\',
      "\\'",
      '$1',
      '$$',
      '$tag$',
      '"',
      '--',
      '/*',
      ';',
      "E'\\x00'",
    );
    const arb = fc.oneof(
      nulFree,
      fc.array(fc.oneof(tricky, nulFree), { maxLength: 6 }).map((a) => a.join('')),
    );
    await fc.assert(
      fc.asyncProperty(arb, async (s) => {
        const inserted = await run<{ id: number; s: string }>(
          sql`insert into ${table} (s) values (${s}) returning id, s`,
        );
        expect(inserted.rows[0]!.s).toBe(s);
        const read = await run<{ s: string }>(sql`select s from ${table} where id = ${inserted.rows[0]!.id}`);
        expect(read.rows[0]!.s).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('runs composed fragments with renumbered placeholders on the server', async () => {
    const cond = sql`x > ${2} and x < ${sql`${5}`}`;
    const res = await run<{ x: number }>(
      sql`select x from generate_series(${1}::int, ${10}::int) as x where ${cond} and x in (${sql.join([3, 4, 9])}) order by x`,
    );
    expect(res.rows.map((r) => r.x)).toEqual([3, 4]);
  });
});

describe('sql.id()', () => {
  it('turns a hostile identifier into a table literally named so', async () => {
    const victim = uniqueName('victim');
    const hostile = `x"; drop table "${schema.name}"."${victim}"; --`;
    await run(sql`create table ${sql.id([schema.name, victim])} (id int)`);
    await run(sql`create table ${sql.id([schema.name, hostile])} (id int)`);
    const tables = await run<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = ${schema.name} order by table_name`,
    );
    const names = tables.rows.map((r) => r.table_name);
    expect(names).toContain(hostile);
    expect(names).toContain(victim);
    await run(sql`insert into ${sql.id([schema.name, hostile])} (id) values (${1})`);
    const count = await run<{ n: string }>(sql`select count(*) as n from ${sql.id([schema.name, hostile])}`);
    expect(count.rows[0]!.n).toBe('1');
  });

  it('keeps mixed-case and dotted names exact', async () => {
    const name = `Mixed.Case_${uniqueName('t')}`;
    await run(sql`create table ${sql.id([schema.name, name])} (${sql.id('Col"Q')} int)`);
    await run(sql`insert into ${sql.id([schema.name, name])} values (${42})`);
    const res = await run<Record<string, number>>(sql`select * from ${sql.id([schema.name, name])}`);
    expect(res.rows[0]).toEqual({ 'Col"Q': 42 });
  });
});

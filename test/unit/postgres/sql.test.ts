import { describe, expect, it } from 'vitest';
import { isSqlQuery, sql, SqlQuery } from '../../../adapters/postgres/sql.js';

describe('sql``', () => {
  it('turns every value into a $n placeholder and keeps it out of the text', () => {
    const evil = "'; drop table users; --";
    const q = sql`select * from t where a = ${1} and b = ${evil}`;
    expect(q.text).toBe('select * from t where a = $1 and b = $2');
    expect(q.values).toEqual([1, evil]);
    expect(q.text).not.toContain('drop');
  });

  it('returns a SqlQuery without values for a plain template', () => {
    const q = sql`select 1`;
    expect(q).toBeInstanceOf(SqlQuery);
    expect(q.text).toBe('select 1');
    expect(q.values).toEqual([]);
  });

  it('renumbers the placeholders of nested fragments', () => {
    const where = sql`a = ${'x'} and b = ${'y'}`;
    const q = sql`select ${0} from t where ${where} and c = ${'z'} limit ${sql`${5}`}`;
    expect(q.text).toBe('select $1 from t where a = $2 and b = $3 and c = $4 limit $5');
    expect(q.values).toEqual([0, 'x', 'y', 'z', 5]);
  });

  it('composes deeply nested fragments', () => {
    const inner = sql`${1} + ${2}`;
    const middle = sql`(${inner}) * ${3}`;
    const q = sql`select ${middle}, ${inner}`;
    expect(q.text).toBe('select ($1 + $2) * $3, $4 + $5');
    expect(q.values).toEqual([1, 2, 3, 1, 2]);
  });

  it('passes null, arrays, objects and buffers through as values', () => {
    const buf = Buffer.from('x');
    const q = sql`${null} ${[1, 2]} ${{ a: 1 }} ${buf}`;
    expect(q.values).toEqual([null, [1, 2], { a: 1 }, buf]);
    expect(q.text).toBe('$1 $2 $3 $4');
  });

  it('rejects undefined values with a TypeError naming the position', () => {
    expect(() => sql`select ${1}, ${undefined}`).toThrow(/value #2 is undefined/);
    expect(() => sql`select ${1}, ${undefined}`).toThrow(TypeError);
  });

  it('refuses to be called as a plain function', () => {
    const call = sql as unknown as (s: string) => SqlQuery;
    expect(() => call('select 1')).toThrow(TypeError);
  });

  it('toString() shows the text only, never the values', () => {
    expect(String(sql`select ${'secret'}`)).toBe('select $1');
  });
});

describe('sql.id()', () => {
  it('quotes a simple name', () => {
    expect(sql.id('users').text).toBe('"users"');
  });

  it('splits a dotted string into schema-qualified parts', () => {
    expect(sql.id('app.users').text).toBe('"app"."users"');
  });

  it('keeps dots inside names given as an array', () => {
    expect(sql.id(['my.schema', 'users']).text).toBe('"my.schema"."users"');
  });

  it('doubles embedded double quotes so a hostile name stays one identifier', () => {
    const q = sql`create table ${sql.id('x"; drop table y; --')} ()`;
    expect(q.text).toBe('create table "x""; drop table y; --" ()');
    expect(q.values).toEqual([]);
  });

  it('rejects NUL characters, empty names and non-strings', () => {
    expect(() => sql.id('a\0b')).toThrow(RangeError);
    expect(() => sql.id('')).toThrow(RangeError);
    expect(() => sql.id('a..b')).toThrow(RangeError);
    expect(() => sql.id([])).toThrow(TypeError);
    expect(() => sql.id(42 as unknown as string)).toThrow(/42/);
  });

  it('embeds into a template next to values', () => {
    const q = sql`select ${sql.id('col')} from ${sql.id(['s', 't'])} where x = ${7}`;
    expect(q.text).toBe('select "col" from "s"."t" where x = $1');
    expect(q.values).toEqual([7]);
  });
});

describe('sql.join()', () => {
  it('joins values as placeholders with ", " by default', () => {
    const q = sql`select * from t where id in (${sql.join([1, 2, 3])})`;
    expect(q.text).toBe('select * from t where id in ($1, $2, $3)');
    expect(q.values).toEqual([1, 2, 3]);
  });

  it('joins fragments with a custom separator and renumbers', () => {
    const conds = [sql`a = ${1}`, sql`b = ${2}`];
    const q = sql`select ${0} where ${sql.join(conds, sql` and `)}`;
    expect(q.text).toBe('select $1 where a = $2 and b = $3');
    expect(q.values).toEqual([0, 1, 2]);
  });

  it('accepts any iterable and gives an empty fragment for no parts', () => {
    expect(sql.join(new Set(['a', 'b'])).values).toEqual(['a', 'b']);
    expect(sql.join([]).text).toBe('');
  });

  it('rejects a non-iterable, a string separator and undefined parts', () => {
    expect(() => sql.join(5 as unknown as number[])).toThrow(TypeError);
    expect(() => sql.join([1], ' and ' as unknown as SqlQuery)).toThrow(TypeError);
    expect(() => sql.join([1, undefined])).toThrow(/part #2 is undefined/);
  });
});

describe('isSqlQuery()', () => {
  it('tells SqlQuery objects apart from look-alikes', () => {
    expect(isSqlQuery(sql`select 1`)).toBe(true);
    expect(isSqlQuery({ text: 'select 1', values: [] })).toBe(false);
  });
});

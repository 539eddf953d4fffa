import { describe, expect, it } from 'vitest';
import { operationName } from '../../../adapters/postgres/operation-name.js';
import { claimPoolName, releasePoolName } from '../../../adapters/postgres/pool-names.js';
import { readServerUrl } from '../../../adapters/postgres/server-url.js';

describe('operationName() (db.operation.name)', () => {
  it('is the first keyword, upper-cased, after whitespace, comments and parentheses', () => {
    expect(operationName('select * from t where id = $1')).toBe('SELECT');
    expect(operationName('  \n\tINSERT into t values ($1)')).toBe('INSERT');
    expect(operationName('-- report\n/* nightly */ with x as (select 1) select * from x')).toBe('WITH');
    expect(operationName('(select 1) union (select 2)')).toBe('SELECT');
    expect(operationName('begin isolation level serializable')).toBe('BEGIN');
  });

  it('is undefined when the text does not start with a keyword, never a piece of the text', () => {
    expect(operationName('')).toBeUndefined();
    expect(operationName("'secret' || 'x'")).toBeUndefined();
    expect(operationName('"quoted" name')).toBeUndefined();
    expect(operationName('select1secret')).toBeUndefined(); // not a keyword: letters then digits
    expect(operationName('x'.repeat(40))).toBeUndefined(); // longer than any keyword
  });
});

describe('claimPoolName()', () => {
  it('adds #2, #3 … while a pool of that name is open, and frees a name once released', () => {
    const base = `postgres://h:5432/${Math.random()}`;
    const a = claimPoolName(base);
    const b = claimPoolName(base);
    const c = claimPoolName(base);
    expect([a, b, c]).toEqual([base, `${base}#2`, `${base}#3`]);
    releasePoolName(b);
    releasePoolName(b); // idempotent
    expect(claimPoolName(base)).toBe(`${base}#2`);
    for (const n of [a, b, c]) releasePoolName(n);
    expect(claimPoolName(base)).toBe(base);
    releasePoolName(base);
  });
});

describe('ServerAddress server.address / server.port', () => {
  it('names the one host of a plain URL, and none for a multi-host URL', () => {
    const one = readServerUrl('postgres://u:pw@db1:6543/shop', 'url', {}, []);
    expect([one.serverAddress, one.serverPort, one.database]).toEqual(['db1', 6543, 'shop']);
    const many = readServerUrl('postgres://u@db1:5432,db2:5432/shop', 'url', {}, []);
    expect([many.serverAddress, many.serverPort]).toEqual([undefined, undefined]);
  });
});

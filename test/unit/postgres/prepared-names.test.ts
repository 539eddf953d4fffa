import { describe, expect, it } from 'vitest';
import { PreparedNames, staleStatement } from '../../../adapters/postgres/prepared-names.js';

const serverError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('PreparedNames', () => {
  it('nameFor() gives each text one name, and a new one after forget()', () => {
    const names = new PreparedNames();
    const a = names.nameFor('select $1');
    expect(a).toMatch(/^connkit_[0-9a-f]{32}_\d+$/);
    expect(a!.length).toBeLessThanOrEqual(63);
    expect(names.nameFor('select $1')).toBe(a);
    expect(names.nameFor('select $2')).not.toBe(a);
    names.forget('select $1', false);
    const again = names.nameFor('select $1');
    expect(again).not.toBe(a);
    expect(again).not.toBeUndefined();
  });

  it('names at most 256 texts; the rest run unnamed', () => {
    const names = new PreparedNames();
    for (let i = 0; i < 256; i++) expect(names.nameFor(`select ${i}`)).toBeDefined();
    expect(names.nameFor('select 999')).toBeUndefined();
    expect(names.nameFor('select 0')).toBeDefined(); // named ones keep their name
  });

  it('stops naming after a few statements found gone (a pooler that keeps none), not after failed parses', () => {
    const names = new PreparedNames();
    for (let i = 0; i < 20; i++) names.forget('x', false); // Parse failed ahead: not a lost statement
    expect(names.nameFor('select $1')).toBeDefined();
    for (let i = 0; i < 8; i++) names.forget('select $1', true);
    expect(names.nameFor('select $1')).toBeUndefined();
  });

  it('puts a hash of the text in every name, so a name never stands for another text (poolers, other processes)', () => {
    const one = new PreparedNames();
    const other = new PreparedNames();
    other.nameFor('select 2');
    const a = one.nameFor('select $1 + 1')!;
    const b = other.nameFor('select $1 + 2')!;
    expect(a.split('_')[1]).not.toBe(b.split('_')[1]);
    expect(new PreparedNames().nameFor('select $1 + 1')!.split('_')[1]).toBe(a.split('_')[1]);
  });

  it('names nothing when disabled', () => {
    expect(new PreparedNames(false).nameFor('select $1')).toBeUndefined();
  });
});

describe('staleStatement()', () => {
  it('recognises a prepared statement that no longer fits or exists, and nothing else', () => {
    expect(staleStatement(serverError('0A000', 'cached plan must not change result type'))).toBe('0A000');
    expect(staleStatement(serverError('26000', 'prepared statement "connkit_1" does not exist'))).toBe(
      '26000',
    );
    expect(staleStatement(serverError('42P05', 'prepared statement "connkit_1" already exists'))).toBe(
      '42P05',
    );
    expect(staleStatement(serverError('0A000', 'feature not supported'))).toBeUndefined();
    expect(staleStatement(serverError('42P01', 'relation "t" does not exist'))).toBeUndefined();
    expect(staleStatement(new Error('boom'))).toBeUndefined();
    expect(staleStatement(null)).toBeUndefined();
  });
});

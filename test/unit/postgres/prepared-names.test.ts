import { describe, expect, it } from 'vitest';
import { PreparedNames, staleStatement } from '../../../adapters/postgres/prepared-names.js';

const serverError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('PreparedNames', () => {
  it('nameFor() gives each text one name, and a new one after forget()', () => {
    const names = new PreparedNames();
    const a = names.nameFor('select $1');
    expect(a).toMatch(/^connkit_\d+$/);
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
    expect(staleStatement(serverError('0A000', 'feature not supported'))).toBeUndefined();
    expect(staleStatement(serverError('42P01', 'relation "t" does not exist'))).toBeUndefined();
    expect(staleStatement(new Error('boom'))).toBeUndefined();
    expect(staleStatement(null)).toBeUndefined();
  });
});

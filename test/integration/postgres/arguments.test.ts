/**
 * DESIGN §2 on every public postgres call: bad arguments throw TypeError/RangeError synchronously
 * (before any work), while an already-aborted signal rejects with its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { databaseUrl } from '../../support/services.js';

let db: Database;
beforeAll(() => {
  db = new Database({ url: databaseUrl(), applicationName: uniqueName('args'), pool: { max: 2 } });
});
afterAll(async () => {
  await db?.close();
});

describe('Database calls with bad arguments throw synchronously', () => {
  it('copyFrom() and copyTo()', () => {
    expect(() => db.copyFrom('copy t from stdin', 5 as unknown as string[])).toThrow(TypeError);
    expect(() => db.copyFrom(42 as unknown as string, [])).toThrow(TypeError);
    expect(() => db.copyFrom({ text: 'copy t from stdin', values: [1] }, [])).toThrow(/no parameters/);
    expect(() => db.copyFrom('copy t from stdin', [], { timeout: -1 })).toThrow(RangeError);
    expect(() => db.copyFrom('copy t from stdin', [], { signal: 'x' as never })).toThrow(TypeError);
    expect(() => db.copyTo(42 as unknown as string)).toThrow(TypeError);
    expect(() => db.copyTo('copy t to stdout', { timeout: NaN })).toThrow(RangeError);
    expect(() => db.copyTo('copy t to stdout', { signal: {} as never })).toThrow(TypeError);
  });

  it('stream(), listen(), notify(), withClient(), transaction(), ping(), close()', () => {
    expect(() => db.stream('select 1', [], { batchSize: 0 })).toThrow(RangeError);
    expect(() => db.stream('select 1', [], { timeout: -1 })).toThrow(RangeError);
    expect(() => db.stream('select $1', [undefined])).toThrow(TypeError);
    expect(() => db.listen('')).toThrow(RangeError);
    expect(() => db.listen('c', { maxBuffered: 0 })).toThrow(RangeError);
    expect(() => db.notify('c', 5 as unknown as string)).toThrow(TypeError);
    expect(() => db.notify('c', 'x', { timeout: -1 })).toThrow(RangeError);
    expect(() => db.withClient('nope' as never)).toThrow(TypeError);
    expect(() => db.withClient(async () => 1, { timeout: -1 })).toThrow(RangeError);
    expect(() => db.transaction(async () => 1, { isolation: 'chaos' as never })).toThrow(RangeError);
    expect(() => db.transaction(async () => 1, { retries: -1 })).toThrow(RangeError);
    expect(() => db.ping({ timeout: -1 })).toThrow(RangeError);
    expect(() => db.ping({ signal: 5 as never })).toThrow(TypeError);
    expect(db.stats().pool.created).toBe(0);
  });

  it('tx.query() and nested tx.transaction()', async () => {
    const seen: string[] = [];
    await db.transaction(async (tx) => {
      const bad: [string, () => unknown][] = [
        ['tx.query values', () => tx.query('select $1', [undefined])],
        ['tx.query timeout', () => tx.query('select 1', [], { timeout: -1 })],
        ['tx.transaction fn', () => tx.transaction('nope' as never)],
        [
          'tx.transaction isolation',
          () => tx.transaction(async () => 1, { isolation: 'serializable' } as never),
        ],
        ['tx.transaction signal', () => tx.transaction(async () => 1, { signal: 'x' as never })],
      ];
      for (const [name, call] of bad) {
        let result: unknown;
        try {
          result = call();
        } catch {
          seen.push(name);
          continue;
        }
        // Not thrown: keep the rejection handled, and let the assertion below name the call.
        if (result instanceof Promise) await result.catch(() => undefined);
      }
    });
    expect(seen).toEqual([
      'tx.query values',
      'tx.query timeout',
      'tx.transaction fn',
      'tx.transaction isolation',
      'tx.transaction signal',
    ]);
  });
});

describe('Database calls with an already-aborted signal reject with its reason', () => {
  it('copyFrom(), nested tx.transaction() and notify() reject rather than throw', async () => {
    const reason = new Error('already gone');
    const signal = AbortSignal.abort(reason);
    let read = false;
    const source = (async function* () {
      read = true;
      yield '1\n';
    })();
    const copy = db.copyFrom('copy t from stdin', source, { signal });
    await expect(copy).rejects.toBe(reason);
    expect(read).toBe(false);
    await expect(db.notify('c', 'x', { signal })).rejects.toBe(reason);
    await db.transaction(async (tx) => {
      let ran = false;
      await expect(tx.transaction(async () => (ran = true), { signal })).rejects.toBe(reason);
      expect(ran).toBe(false);
    });
  });
});

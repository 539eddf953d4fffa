import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFrom, copyTo } from '../../../adapters/postgres/copy.js';
import { DatabaseError } from '../../../adapters/postgres/errors.js';
import { sql } from '../../../adapters/postgres/sql.js';
import { TimeoutError } from '../../../src/errors.js';
import { uniqueName } from '../../support/names.js';
import { createTestSchema, withPgClient } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';
import { answers, leaseHarness, type LeaseHarness } from './connection-harness.js';
import { rejectionOf } from '../../support/async.js';

let schema: { name: string; drop(): Promise<void> };
beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
});
afterAll(async () => {
  await schema?.drop();
});

const harnesses: LeaseHarness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.end()));
});
async function harness(): Promise<LeaseHarness> {
  const h = await leaseHarness();
  harnesses.push(h);
  return h;
}

/** A fresh table (id int, name text) in the test schema. */
async function table(): Promise<ReturnType<typeof sql.id>> {
  const t = sql.id([schema.name, uniqueName('copy')]);
  await withPgClient(databaseUrl(), (c) =>
    c.query(sql`create table ${t} (id int primary key, name text)`.text),
  );
  return t;
}

const countOf = (t: ReturnType<typeof sql.id>) =>
  withPgClient(databaseUrl(), async (c) =>
    Number((await c.query(sql`select count(*) as n from ${t}`.text)).rows[0].n),
  );

async function* lines(n: number, onEach?: (i: number) => void): AsyncGenerator<string> {
  for (let i = 1; i <= n; i++) {
    onEach?.(i);
    yield `${i}\tname ${i}\n`;
  }
}

describe('copyFrom()', () => {
  it('loads an async iterable of strings and resolves with the row count', async () => {
    const h = await harness();
    const t = await table();
    const longLived = new AbortController();
    const n = await copyFrom(h.lend, sql`copy ${t} (id, name) from stdin`, lines(10_000), {
      signal: longLived.signal,
      timeout: 60_000,
    });
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);
    expect(n).toBe(10_000);
    expect(await countOf(t)).toBe(10_000);
    const last = await withPgClient(databaseUrl(), (c) =>
      c.query(sql`select name from ${t} where id = ${10_000}`.text, [10_000]),
    );
    expect(last.rows[0].name).toBe('name 10000');
    expect(h.releases).toEqual([[]]);
  });

  it('loads a Readable of CSV bytes split in the middle of rows', async () => {
    const h = await harness();
    const t = await table();
    const csv = Buffer.from('1,"a, with comma"\n2,"quote "" inside"\n3,\\N\n');
    const chunks = [csv.subarray(0, 7), csv.subarray(7, 20), csv.subarray(20)];
    const n = await copyFrom(
      h.lend,
      sql`copy ${t} from stdin with (format csv, null '\\N')`,
      Readable.from(chunks),
    );
    expect(n).toBe(3);
    const rows = await withPgClient(databaseUrl(), (c) =>
      c.query(sql`select id, name from ${t} order by id`.text),
    );
    expect(rows.rows).toEqual([
      { id: 1, name: 'a, with comma' },
      { id: 2, name: 'quote " inside' },
      { id: 3, name: null },
    ]);
  });

  it('rolls back and keeps the connection healthy when aborted mid-copy', async () => {
    const h = await harness();
    const t = await table();
    const ac = new AbortController();
    const reason = new Error('stop the load');
    const source = lines(200_000, (i) => {
      if (i === 50_000) ac.abort(reason);
    });
    await expect(copyFrom(h.lend, sql`copy ${t} from stdin`, source, { signal: ac.signal })).rejects.toBe(
      reason,
    );
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
    expect(await countOf(t)).toBe(0);
  });

  it('rejects with TimeoutError when the source stalls past the timeout, loading nothing', async () => {
    const h = await harness();
    const t = await table();
    async function* stalls(): AsyncGenerator<string> {
      yield '1\ta\n';
      await new Promise(() => undefined);
    }
    const err = await rejectionOf(copyFrom(h.lend, sql`copy ${t} from stdin`, stalls(), { timeout: 100 }));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/100 ms/);
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
    expect(await countOf(t)).toBe(0);
  });

  it('rejects with DatabaseError on bad data and keeps the connection', async () => {
    const h = await harness();
    const t = await table();
    const err = await rejectionOf(
      copyFrom(h.lend, sql`copy ${t} from stdin`, ['1\ta\n', 'oops\tb\n', '3\tc\n']),
    );
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('22P02');
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
    expect(await countOf(t)).toBe(0);
  });

  it('rejects with the source’s error and loads nothing', async () => {
    const h = await harness();
    const t = await table();
    const boom = new Error('source broke');
    async function* failing(): AsyncGenerator<string> {
      yield '1\ta\n';
      throw boom;
    }
    await expect(copyFrom(h.lend, sql`copy ${t} from stdin`, failing())).rejects.toBe(boom);
    expect(await answers(h.conn)).toBe(true);
    expect(await countOf(t)).toBe(0);
  });

  it('throws synchronously on bad arguments, before acquiring', async () => {
    const h = await harness();
    expect(() => copyFrom(h.lend, sql`copy t from stdin where ${1}`, [])).toThrow(/no parameters/);
    expect(() => copyFrom(h.lend, 42 as unknown as string, [])).toThrow(TypeError);
    expect(() => copyFrom(h.lend, 'copy t from stdin', 5 as unknown as string[])).toThrow(TypeError);
    expect(() => copyFrom(h.lend, 'copy t from stdin', [], { timeout: -1 })).toThrow(RangeError);
    const reason = new Error('already');
    await expect(
      copyFrom(h.lend, 'copy t from stdin', [], { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(h.lent).toBe(0);
  });
});

describe('copyTo()', () => {
  it('yields the whole output as bytes and releases the connection healthy', async () => {
    const h = await harness();
    const chunks: Uint8Array[] = [];
    for await (const chunk of copyTo(
      h.lend,
      'copy (select x, x * 2 from generate_series(1, 50000) x) to stdout with (format csv)',
    )) {
      expect(chunk).toBeInstanceOf(Uint8Array);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString();
    const rows = text.trimEnd().split('\n');
    expect(rows.length).toBe(50_000);
    expect(rows[0]).toBe('1,2');
    expect(rows[49_999]).toBe('50000,100000');
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('round-trips a table through copyTo and copyFrom', async () => {
    const [reader, writer] = [await harness(), await harness()];
    const src = await table();
    const dst = await table();
    await copyFrom(writer.lend, sql`copy ${src} from stdin`, lines(1000));
    const n = await copyFrom(
      writer.lend,
      sql`copy ${dst} from stdin`,
      copyTo(reader.lend, sql`copy ${src} to stdout`),
    );
    expect(n).toBe(1000);
    expect(await countOf(dst)).toBe(1000);
    expect(reader.releases).toEqual([[]]);
  });

  it('cancels the COPY and keeps the connection when the loop is left early', async () => {
    const h = await harness();
    let chunks = 0;
    for await (const _ of copyTo(h.lend, 'copy (select x from generate_series(1, 5000000) x) to stdout')) {
      if (++chunks === 3) break;
    }
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('cancels the COPY and keeps the connection on abort', async () => {
    const h = await harness();
    const ac = new AbortController();
    const reason = new Error('enough');
    const run = async () => {
      for await (const _ of copyTo(h.lend, 'copy (select x from generate_series(1, 5000000) x) to stdout', {
        signal: ac.signal,
      })) {
        ac.abort(reason);
      }
    };
    await expect(run()).rejects.toBe(reason);
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('rejects with signal.reason when aborted mid-transfer, cancelling the COPY and keeping the connection', async () => {
    const h = await harness();
    const ac = new AbortController();
    const reason = new Error('enough bytes');
    let seen = 0;
    const run = async () => {
      for await (const chunk of copyTo(
        h.lend,
        'copy (select x from generate_series(1, 1000000) x) to stdout',
        {
          signal: ac.signal,
        },
      )) {
        seen += chunk.length;
        if (seen > 100_000) ac.abort(reason);
      }
    };
    await expect(run()).rejects.toBe(reason);
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('rejects with TimeoutError at its timeout, cancelling the COPY and keeping the connection', async () => {
    const h = await harness();
    const run = async () => {
      for await (const _ of copyTo(
        h.lend,
        'copy (select x, pg_sleep(0.01) from generate_series(1, 100000) x) to stdout',
        { timeout: 300 },
      )) {
        /* drain */
      }
    };
    await expect(run()).rejects.toThrow(new TimeoutError('copyTo() timed out after 300 ms'));
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('rejects with DatabaseError on a SQL error and keeps the connection', async () => {
    const h = await harness();
    const run = async () => {
      for await (const _ of copyTo(h.lend, `copy ${uniqueName('missing')} to stdout`)) {
        /* empty */
      }
    };
    const err = await rejectionOf(run());
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('42P01');
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });

  it('fails mid-stream with DatabaseError and keeps the connection', async () => {
    const h = await harness();
    const run = async () => {
      for await (const _ of copyTo(
        h.lend,
        'copy (select 1 / (x - 30000) from generate_series(1, 40000) x) to stdout',
      )) {
        /* empty */
      }
    };
    await expect(run()).rejects.toMatchObject({ code: '22012' });
    expect(h.releases).toEqual([[]]);
    expect(await answers(h.conn)).toBe(true);
  });
});

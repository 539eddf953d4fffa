/**
 * One signal shared by many calls (a request's signal handed to every query it makes) costs one
 * abort listener, whatever the number of calls: Node prints no MaxListenersExceededWarning and the
 * signal holds nothing once the calls are over.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, sql } from '../../../adapters/postgres/index.js';
import { uniqueName } from '../../support/names.js';
import { createTestSchema } from '../../support/pg.js';
import { databaseUrl } from '../../support/services.js';

let schema: { name: string; drop(): Promise<void> };
let db: Database;
beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  db = new Database({ url: databaseUrl(), applicationName: uniqueName('shared_sig'), pool: { max: 20 } });
});
afterAll(async () => {
  await db?.close();
  await schema?.drop();
});

/** Runs `fn` and returns the MaxListenersExceededWarnings Node printed meanwhile. */
async function listenerWarnings(fn: () => Promise<unknown>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    await fn();
    // process 'warning' events are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
}

const times = <T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> =>
  Promise.all(Array.from({ length: n }, (_, i) => fn(i)));

describe('Database calls sharing one AbortSignal', () => {
  it('50 concurrent queries (with and without a timeout) raise no MaxListenersExceededWarning', async () => {
    const signal = new AbortController().signal;
    const warnings = await listenerWarnings(() =>
      times(50, (i) =>
        db.query('select pg_sleep(0.05), $1::int', [i], { signal, timeout: i % 2 ? 30_000 : undefined }),
      ),
    );
    expect(warnings).toEqual([]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('50 concurrent transactions, withClient calls, streams and copies raise none either', async () => {
    const signal = new AbortController().signal;
    const t = sql.id([schema.name, uniqueName('copy')]);
    await db.query(sql`create table ${t} (id int)`);
    const warnings = await listenerWarnings(async () => {
      await times(50, () =>
        db.transaction((tx) => tx.query('select pg_sleep(0.02)', [], { signal }), {
          signal,
          timeout: 30_000,
        }),
      );
      await times(50, () => db.withClient((c) => c.query('select pg_sleep(0.02)'), { signal }));
      await times(50, async () => {
        for await (const _ of db.stream('select pg_sleep(0.02)', [], { signal, batchSize: 1 })) {
          /* drain */
        }
      });
      await times(50, (i) => db.copyFrom(sql`copy ${t} from stdin`, [`${i}\n`], { signal }));
      await times(50, async () => {
        for await (const _ of db.copyTo(sql`copy ${t} to stdout`, { signal })) {
          /* drain */
        }
      });
    });
    expect(warnings).toEqual([]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('a dozen subscriptions and notifies on one signal raise none, and close() takes their listener off', async () => {
    const signal = new AbortController().signal;
    const subs = await times(12, () => db.listen(uniqueName('ch'), { signal }));
    const warnings = await listenerWarnings(() =>
      times(12, (i) => db.notify(subs[i]!.channel, 'x', { signal })),
    );
    expect(warnings).toEqual([]);
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    await Promise.all(subs.map((s) => s.close()));
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener on the signal after 10 000 calls', async () => {
    const signal = new AbortController().signal;
    for (let batch = 0; batch < 100; batch++) {
      await times(100, (i) =>
        db.query('select $1::int', [i], { signal, timeout: i % 2 ? 30_000 : undefined }),
      );
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

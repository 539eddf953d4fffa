/**
 * Bad input, one test each: every mistake gets a clear error (class and message naming the culprit)
 * and leaves the kit usable — checked after every test on a shared Database and Broker.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnkitError, PoolClosedError, TimeoutError } from '../../src/errors.js';
import {
  ConnectionError,
  Database,
  DatabaseError,
  MAX_PARAMETERS,
  sql,
} from '../../adapters/postgres/index.js';
import { Broker, BrokerClosedError, RemoteError } from '../../adapters/amqp/index.js';
import type { BrokerOptions } from '../../adapters/amqp/index.js';
import type { DatabaseOptions } from '../../adapters/postgres/index.js';
import { deleteQueues, withAmqpChannel } from '../support/amqp.js';
import { rejectionOf, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { createTestSchema } from '../support/pg.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

let db: Database;
let broker: Broker;
let schema: { name: string; drop(): Promise<void> };
const q = uniqueName('bad_q');
const queues: string[] = [q];

beforeAll(async () => {
  db = new Database({ url: databaseUrl(), applicationName: uniqueName('bad_pg'), pool: { max: 3 } });
  broker = new Broker({
    url: amqpUrl(),
    clientName: uniqueName('connkit_bad'),
    topology: { queues: [{ name: q }] },
  });
  broker.on('error', () => undefined);
  await broker.connect();
  schema = await createTestSchema(databaseUrl());
});

afterAll(async () => {
  await db.close();
  await broker.close();
  await schema.drop();
  await deleteQueues(amqpUrl(), queues);
});

// After every mistake: the shared Database and Broker still work and hold nothing.
afterEach(async () => {
  expect(await db.one('select 1 as ok', [], { timeout: 10_000 })).toEqual({ ok: 1 });
  await broker.sendToQueue(q, 'still usable', { timeout: 10_000 });
  await until(() => db.stats().pool.borrowed === 0, 10_000, 'pool idle');
  expect(db.stats().pool.pending).toBe(0);
  expect(broker.stats().publisher.pending).toBe(0);
});

/** What a call does with a bad argument: throws synchronously, or returns a rejected promise. */
async function outcome(fn: () => unknown): Promise<{ sync: boolean; error: unknown }> {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    return { sync: true, error };
  }
  try {
    await result;
  } catch (error) {
    return { sync: false, error };
  }
  throw new Error('expected a failure, the call succeeded');
}

async function queueDepth(name: string): Promise<number> {
  return withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(name)).messageCount);
}

const validUrl = (): string => amqpUrl();

describe('invalid options', () => {
  const dbCases: [string, DatabaseOptions, typeof TypeError, RegExp][] = [
    ['queryTimeout: -1', { queryTimeout: -1 }, RangeError, /queryTimeout.*-1/],
    ['queryTimeout: NaN', { queryTimeout: NaN }, RangeError, /queryTimeout.*NaN/],
    [
      'statementTimeout: "5s"',
      { statementTimeout: '5s' as unknown as number },
      TypeError,
      /statementTimeout.*"5s"/,
    ],
    ['pool.max: 0', { pool: { max: 0 } }, RangeError, /max.*0/],
    ['pool.acquireTimeout: -5', { pool: { acquireTimeout: -5 } }, RangeError, /acquireTimeout.*-5/],
    ['pipeline.connections: 0', { pipeline: { connections: 0 } }, RangeError, /pipeline\.connections.*0/],
    ['applicationName: 42', { applicationName: 42 as unknown as string }, TypeError, /applicationName.*42/],
    ['connection: "x"', { connection: 'x' as unknown as object }, TypeError, /connection.*"x"/],
  ];
  it.each(dbCases)('new Database({ %s }) throws naming the option', (_, opts, cls, message) => {
    const err = (() => {
      try {
        new Database({ url: databaseUrl(), ...opts });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(cls);
    expect((err as Error).message).toMatch(message);
  });

  const brokerCases: [string, Partial<BrokerOptions>, typeof TypeError, RegExp][] = [
    ['heartbeat: -1', { heartbeat: -1 }, RangeError, /heartbeat.*-1/],
    ['maxPending: 0', { maxPending: 0 }, RangeError, /maxPending.*0/],
    ['reconnect.factor: 0', { reconnect: { factor: 0 } }, RangeError, /reconnect\.factor.*0/],
    ['channels.max: 1.5', { channels: { max: 1.5 } }, RangeError, /channels\.max.*1\.5/],
    [
      'publishTimeout: "1s"',
      { publishTimeout: '1s' as unknown as number },
      TypeError,
      /publishTimeout.*"1s"/,
    ],
    ['clientName: {}', { clientName: {} as unknown as string }, TypeError, /clientName/],
    ['tls: "yes"', { tls: 'yes' as unknown as object }, TypeError, /tls.*"yes"/],
  ];
  it.each(brokerCases)('new Broker({ url, %s }) throws naming the option', (_, opts, cls, message) => {
    expect(() => new Broker({ url: validUrl(), ...opts })).toThrow(cls);
    expect(() => new Broker({ url: validUrl(), ...opts })).toThrow(message);
  });

  it('new Broker({}) without url throws TypeError', () => {
    expect(() => new Broker({})).toThrow(TypeError);
    expect(() => new Broker({})).toThrow(/url/);
  });

  it('broker.consume() with bad options throws naming the option and subscribes nothing', async () => {
    const handler = async (): Promise<void> => undefined;
    expect(() => broker.consume(q, handler, { concurrency: 0 })).toThrow(RangeError);
    expect(() => broker.consume(q, handler, { concurrency: 0 })).toThrow(/concurrency.*0/);
    expect(() => broker.consume(q, handler, { retry: { attempts: 3, delay: [] } })).toThrow(/retry\.delay/);
    expect(() => broker.consume(q, handler, { retry: { attempts: 3, delay: -1 } })).toThrow(RangeError);
    expect(() => broker.consume('', handler)).toThrow(TypeError);
    expect(() => broker.consume(q, 'nope' as unknown as typeof handler)).toThrow(/handler/);
    expect(broker.stats().consumers).toHaveLength(0);
  });

  it('broker.connect/publish/call/declare/close with bad arguments throw synchronously naming the culprit', () => {
    const bad: [string, () => unknown, typeof TypeError, RegExp][] = [
      [
        'connect signal',
        () => broker.connect({ signal: 'x' as unknown as AbortSignal }),
        TypeError,
        /signal.*"x"/,
      ],
      ['publish signal', () => broker.sendToQueue(q, 1, { signal: {} as AbortSignal }), TypeError, /signal/],
      ['publish priority', () => broker.sendToQueue(q, 1, { priority: 256 }), RangeError, /priority.*256/],
      [
        'publish expiration',
        () => broker.sendToQueue(q, 1, { expiration: -5 }),
        RangeError,
        /expiration.*-5/,
      ],
      ['publish headers', () => broker.sendToQueue(q, 1, { headers: [] as never }), TypeError, /headers/],
      ['call queue', () => broker.call(42 as unknown as string, 1), TypeError, /queue.*42/],
      ['call headers', () => broker.call(q, 1, { headers: 'h' as never }), TypeError, /headers.*"h"/],
      ['declare queues', () => broker.declare({ queues: 'q' as never }), TypeError, /queues.*"q"/],
      ['close timeout', () => broker.close({ timeout: '1' as unknown as number }), TypeError, /timeout.*"1"/],
    ];
    for (const [name, call, cls, message] of bad) {
      expect(call, name).toThrow(cls);
      expect(call, name).toThrow(message);
    }
  });

  it('db.transaction() with bad options fails naming the option, without running fn', async () => {
    let ran = false;
    const fn = async (): Promise<void> => {
      ran = true;
    };
    const iso = await outcome(() => db.transaction(fn, { isolation: 'chaos' as 'serializable' }));
    expect(iso.error).toBeInstanceOf(RangeError);
    expect((iso.error as Error).message).toMatch(/isolation.*"chaos"/);
    const retries = await outcome(() => db.transaction(fn, { retries: -1 }));
    expect(retries.error).toBeInstanceOf(RangeError);
    expect((retries.error as Error).message).toMatch(/retries.*-1/);
    const notFn = await outcome(() => db.transaction('select 1' as unknown as typeof fn));
    expect(notFn.error).toBeInstanceOf(TypeError);
    expect(ran).toBe(false);
  });
});

describe('malformed URLs', () => {
  const secret = 'hunter2-malformed';
  const cases: [string, () => unknown, RegExp][] = [
    ['Database: not a URL', () => new Database({ url: 'not a url' }), /url/],
    ['Database: mysql://', () => new Database({ url: `mysql://u:${secret}@h/db` }), /postgres:\/\//],
    ['Database: broken host', () => new Database({ url: `postgres://u:${secret}@[bad/db` }), /url/],
    ['Broker: http://', () => new Broker({ url: `http://guest:${secret}@h` }), /amqp:\/\//],
    ['Broker: no host', () => new Broker({ url: 'amqp://' }), /host/],
    ['Broker: broken host', () => new Broker({ url: `amqp://guest:${secret}@[::1` }), /url/],
    ['Broker: urls not an array', () => new Broker({ urls: 'amqp://h' as unknown as string[] }), /urls/],
  ];
  it.each(cases)('%s → TypeError, password not echoed', (_, make, message) => {
    let err: unknown;
    try {
      make();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(secret);
  });
});

describe('wrong credentials', () => {
  it('Database: an unknown role fails with ConnectionError naming it, quickly, password not echoed', async () => {
    const user = uniqueName('nobody');
    const u = new URL(databaseUrl());
    u.username = user;
    u.password = 'wrong-pass-9f';
    await using bad = new Database({ url: u.toString(), pool: { acquireTimeout: 20_000 } });
    const started = performance.now();
    const err = await rejectionOf(bad.query('select 1'));
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(new RegExp(`${user}|authentication|password`));
    expect((err as Error).message).not.toContain('wrong-pass-9f');
    expect(performance.now() - started).toBeLessThan(15_000); // not the 20 s acquire timeout
    expect(bad.stats().pool).toMatchObject({ borrowed: 0, pending: 0 });
  });

  it('Broker: a wrong password fails connect() with ConnectionError (access refused), before connectTimeout', async () => {
    const u = new URL(amqpUrl());
    u.password = 'wrong-pass-7c';
    await using bad = new Broker({ url: u.toString(), connectTimeout: 20_000 });
    bad.on('error', () => undefined);
    const publish = expect(bad.sendToQueue(q, 'x')).rejects.toBeInstanceOf(ConnectionError);
    const started = performance.now();
    const err = await rejectionOf(bad.connect());
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/ACCESS.REFUSED|refused/i);
    expect((err as Error).message).not.toContain('wrong-pass-7c');
    expect(performance.now() - started).toBeLessThan(15_000);
    // Work queued before the refusal fails too, instead of waiting out its timeout.
    await publish;
  });
});

describe('oversized input', () => {
  it('db.notify() with a payload over 8000 bytes throws RangeError quoting the size, before reaching the server', () => {
    const before = db.stats().queries;
    expect(() => db.notify(uniqueName('big'), 'x'.repeat(9_000))).toThrow(RangeError);
    expect(() => db.notify(uniqueName('big'), 'x'.repeat(9_000))).toThrow(/8000 bytes.*9000/);
    expect(db.stats().queries).toBe(before);
  });

  it('a statement the server refuses as too large fails with DatabaseError and costs no connection', async () => {
    const created = db.stats().pool.created;
    // 1 GB is PostgreSQL's limit for one value; repeat() past it is refused by the server (54000).
    const err = await rejectionOf(db.query("select repeat('x', 1073741824) as big", [], { timeout: 30_000 }));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('54000');
    expect(db.stats().pool.created).toBe(created);
  });

  it(`db.query() with ${MAX_PARAMETERS + 1} parameters throws RangeError before reaching the server`, () => {
    const before = db.stats().queries;
    const values = new Array<number>(MAX_PARAMETERS + 1).fill(1);
    expect(() => db.query('select 1', values)).toThrow(RangeError);
    expect(() => db.query('select 1', values)).toThrow(/65536 parameters.*65535/);
    expect(db.stats().queries).toBe(before);
  });

  it(`db.query() with exactly ${MAX_PARAMETERS} parameters works`, async () => {
    const values = Array.from({ length: MAX_PARAMETERS }, (_, i) => i);
    const text = `select array_length(array[${values.map((_, i) => `$${i + 1}::int`).join(',')}], 1) as n`;
    expect(await db.one(text, values, { timeout: 30_000 })).toEqual({ n: MAX_PARAMETERS });
  });
});

describe('undecodable bodies and non-Error throws', () => {
  it('broker.consume(): a declared-JSON body that does not parse is dead-lettered, never handled, and the consumer goes on', async () => {
    const src = uniqueName('undecodable');
    const dead = uniqueName('undecodable_dead');
    queues.push(src, dead);
    await broker.declare({ queues: [{ name: src }, { name: dead }] });
    const handled: unknown[] = [];
    await using consumer = broker.consume(src, async (msg) => void handled.push(msg.body), {
      deadLetter: dead,
    });
    await consumer.ready;
    await broker.publish('', src, Buffer.from('{"not json'), {
      contentType: 'application/json',
      messageId: 'bad-1',
    });
    await broker.sendToQueue(src, { ok: true });
    await until(() => handled.length === 1, 10_000, 'valid message handled');
    expect(handled).toEqual([{ ok: true }]);
    const deadMsg = await withAmqpChannel(amqpUrl(), async (ch) => {
      for (let i = 0; i < 200; i++) {
        const m = await ch.get(dead, { noAck: true });
        if (m) return m;
        await new Promise((r) => setTimeout(r, 25));
      }
      return undefined;
    });
    expect(deadMsg?.properties.messageId).toBe('bad-1');
    expect(String((deadMsg?.properties.headers as Record<string, unknown>)['x-connkit-error'])).toMatch(
      /JSON/,
    );
    expect(consumer.stats()).toMatchObject({ deadLettered: 1, acked: 2 });
  });

  it('broker.consume(): a handler that throws a string dead-letters the message with a readable reason', async () => {
    const src = uniqueName('nonerror');
    const dead = uniqueName('nonerror_dead');
    queues.push(src, dead);
    await broker.declare({ queues: [{ name: src }, { name: dead }] });
    await using consumer = broker.consume(
      src,
      async () => {
        throw 'boom';
      },
      { deadLetter: dead },
    );
    await consumer.ready;
    await broker.sendToQueue(src, { n: 1 });
    await until(() => consumer.stats().deadLettered === 1, 10_000, 'dead-lettered');
    const m = await withAmqpChannel(amqpUrl(), (ch) => ch.get(dead, { noAck: true }));
    expect(m && String((m.properties.headers as Record<string, unknown>)['x-connkit-error'])).toMatch(
      /Non-error thrown: "boom"/,
    );
  });

  it('broker.call(): a server handler that throws a plain object rejects the caller with RemoteError', async () => {
    const rpcQ = uniqueName('nonerror_rpc');
    queues.push(rpcQ);
    await broker.declare({ queues: [{ name: rpcQ }] });
    await using server = broker.serve(rpcQ, async () => {
      throw { weird: true };
    });
    await server.ready;
    const err = await rejectionOf(broker.call(rpcQ, {}, { timeout: 10_000 }));
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toMatch(/weird/);
  });

  it('db.transaction(): fn throwing a non-Error rejects with that value and rolls back', async () => {
    const table = sql.id([schema.name, 'nonerror_tx']);
    await db.query(sql`create table ${table} (id int)`);
    const rollbacks = db.stats().rollbacks;
    const err = await rejectionOf(
      db.transaction(async (tx) => {
        await tx.query(sql`insert into ${table} values (1)`);
        throw 42;
      }),
    );
    expect(err).toBe(42);
    expect(db.stats().rollbacks).toBe(rollbacks + 1);
    expect(await db.rows(sql`select * from ${table}`)).toEqual([]);
  });

  it('db.withClient(): fn throwing undefined rejects with undefined and returns the client', async () => {
    await expect(
      db.withClient(async () => {
        throw undefined;
      }),
    ).rejects.toBeUndefined();
  });
});

describe('hostile identifiers', () => {
  it('sql.id() quotes a table name that tries to inject, and nothing else is touched', async () => {
    const victim = sql.id([schema.name, 'victim']);
    await db.query(sql`create table ${victim} (id int)`);
    await db.query(sql`insert into ${victim} values (1)`);
    const hostile = `x"; drop table "${schema.name}".victim; --`;
    const t = sql.id([schema.name, hostile]);
    expect(t.text).toBe(`"${schema.name}"."x""; drop table ""${schema.name}"".victim; --"`);
    await db.query(sql`create table ${t} (${sql.id('weird "col"')} int)`);
    await db.query(sql`insert into ${t} values (${7})`);
    expect(await db.rows(sql`select ${sql.id('weird "col"')} as v from ${t}`)).toEqual([{ v: 7 }]);
    expect(await db.rows(sql`select id from ${victim}`)).toEqual([{ id: 1 }]);
    const names = await db.rows<{ tablename: string }>(
      'select tablename from pg_tables where schemaname = $1 order by 1',
      [schema.name],
    );
    expect(names.map((r) => r.tablename)).toContain(hostile);
  });

  it('sql.id() refuses empty names and NUL characters with RangeError', () => {
    expect(() => sql.id('')).toThrow(RangeError);
    expect(() => sql.id('a\0b')).toThrow(/NUL/);
    expect(() => sql.id(42 as unknown as string)).toThrow(TypeError);
  });

  it('db.listen() quotes a hostile channel name and still hears it', async () => {
    const channel = `x"; select pg_terminate_backend(pg_backend_pid());--${randomBytes(3).toString('hex')}`;
    await using sub = await db.listen(channel);
    await db.notify(channel, 'hello');
    const n = await sub.next();
    expect(n.value).toMatchObject({ channel, payload: 'hello' });
    expect(sub.reconnects).toBe(0);
  });
});

describe('closing twice and using after close', () => {
  it('Database.close() twice resolves both times; every call after close rejects with PoolClosedError', async () => {
    const d = new Database({ url: databaseUrl(), applicationName: uniqueName('closed_pg') });
    await d.query('select 1');
    await Promise.all([d.close(), d.close()]);
    await d.close();
    await d[Symbol.asyncDispose]();
    await expect(d.query('select 1')).rejects.toBeInstanceOf(PoolClosedError);
    await expect(d.transaction(async () => 1)).rejects.toBeInstanceOf(PoolClosedError);
    await expect(d.withClient(async () => 1)).rejects.toBeInstanceOf(PoolClosedError);
    await expect(d.listen('x')).rejects.toBeInstanceOf(PoolClosedError);
    await expect(d.ping()).rejects.toBeInstanceOf(PoolClosedError);
  });

  it('Broker.close() twice resolves both times; publish/call/declare/connect/consume after close fail with BrokerClosedError', async () => {
    const b = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_closed') });
    await b.connect();
    await Promise.all([b.close(), b.close()]);
    await b.close();
    await b[Symbol.asyncDispose]();
    await expect(b.sendToQueue(q, 'x')).rejects.toBeInstanceOf(BrokerClosedError);
    await expect(b.call(q, 'x')).rejects.toBeInstanceOf(BrokerClosedError);
    await expect(b.declare({ queues: [{ name: q }] })).rejects.toBeInstanceOf(BrokerClosedError);
    await expect(b.connect()).rejects.toBeInstanceOf(BrokerClosedError);
    expect(() => b.consume(q, async () => undefined)).toThrow(BrokerClosedError);
  });

  it('Consumer.close() and Subscription.close() twice resolve both times', async () => {
    const consumer = broker.consume(q, async () => undefined);
    await consumer.ready;
    await Promise.all([consumer.close(), consumer.close()]);
    await consumer.close();
    const sub = await db.listen(uniqueName('twice'));
    await Promise.all([sub.close(), sub.close()]);
    await sub.close();
    expect(sub.closed).toBe(true);
    expect(await sub.next()).toEqual({ done: true, value: undefined });
  });
});

describe('an already aborted signal', () => {
  const reason = new Error('caller gave up');
  const aborted = AbortSignal.abort(reason);

  it('db.query/transaction/withClient/listen reject with signal.reason and do no work', async () => {
    const before = db.stats();
    let ran = false;
    const calls: [string, () => unknown][] = [
      ['query', () => db.query('select 1', [], { signal: aborted })],
      ['transaction', () => db.transaction(async () => (ran = true), { signal: aborted })],
      ['withClient', () => db.withClient(async () => (ran = true), { signal: aborted })],
      ['listen', () => db.listen(uniqueName('aborted'), { signal: aborted })],
      ['ping', () => db.ping({ signal: aborted })],
    ];
    for (const [name, call] of calls) {
      const { error } = await outcome(call);
      expect(error, name).toBe(reason);
    }
    expect(ran).toBe(false);
    expect(db.stats().queries).toBe(before.queries);
    expect(db.stats().pool.created).toBe(before.pool.created);
  });

  it('db.stream() with an aborted signal rejects the first next() with signal.reason', async () => {
    const it = db.stream('select 1', [], { signal: aborted })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toBe(reason);
  });

  it('broker.publish/call/connect reject with signal.reason and publish nothing', async () => {
    const target = uniqueName('aborted_q');
    queues.push(target);
    await broker.declare({ queues: [{ name: target }] });
    for (const [name, call] of [
      ['publish', () => broker.sendToQueue(target, 'no', { signal: aborted })],
      ['call', () => broker.call(target, 'no', { signal: aborted })],
      ['connect', () => broker.connect({ signal: aborted })],
    ] as const) {
      const { error } = await outcome(call);
      expect(error, name).toBe(reason);
    }
    await broker.sendToQueue(q, 'fence');
    expect(await queueDepth(target)).toBe(0);
  });
});

describe('timeout: 0 and negative timeouts', () => {
  it.each([
    ['-1', -1],
    ['NaN', NaN],
  ])('timeout %s → RangeError naming timeout, synchronously, for every call', async (_, timeout) => {
    const calls: [string, () => unknown][] = [
      ['db.query', () => db.query('select 1', [], { timeout })],
      ['db.transaction', () => db.transaction(async () => 1, { timeout })],
      ['db.withClient', () => db.withClient(async () => 1, { timeout })],
      ['db.ping', () => db.ping({ timeout })],
      ['db.close', () => db.close({ timeout })],
      ['broker.publish', () => broker.sendToQueue(q, 'x', { timeout })],
      ['broker.call', () => broker.call(q, 'x', { timeout })],
      ['broker.declare', () => broker.declare({ queues: [] }, { timeout })],
      ['broker.close', () => broker.close({ timeout })],
    ];
    const asynchronous: string[] = [];
    for (const [name, call] of calls) {
      const { sync, error } = await outcome(call);
      expect(error, name).toBeInstanceOf(RangeError);
      expect((error as Error).message, name).toMatch(/timeout/);
      if (!sync) asynchronous.push(name);
    }
    // DESIGN §2: bad arguments throw synchronously.
    expect(asynchronous).toEqual([]);
  });

  it('timeout: 0 means "only at once": a query or a publish that must wait rejects with TimeoutError', async () => {
    const q0 = await outcome(() => db.query('select pg_sleep(0.05)', [], { timeout: 0 }));
    expect(q0.error).toBeInstanceOf(TimeoutError);
    const t0 = await outcome(() => db.transaction(async (tx) => tx.query('select 1'), { timeout: 0 }));
    expect(t0.error).toBeInstanceOf(TimeoutError);
    const p0 = await outcome(() => broker.sendToQueue(q, 'zero', { timeout: 0 }));
    expect(p0.error).toBeInstanceOf(TimeoutError);
    expect(p0.error).toBeInstanceOf(ConnkitError);
  });

  it('timeout: 0 on a publish, call or declare always rejects with TimeoutError and sends nothing (they always wait for the broker)', async () => {
    const target = uniqueName('zero_q');
    queues.push(target);
    await broker.declare({ queues: [{ name: target }] });
    for (let i = 0; i < 20; i++) {
      await expect(broker.sendToQueue(target, i, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      await expect(broker.call(target, i, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      await expect(broker.declare({ queues: [{ name: target }] }, { timeout: 0 })).rejects.toBeInstanceOf(
        TimeoutError,
      );
    }
    await broker.sendToQueue(q, 'fence');
    expect(await queueDepth(target)).toBe(0);
    expect(broker.stats()).toMatchObject({ rpcPending: 0, publisher: { pending: 0 } });
  });
});

/**
 * Security: passwords never appear in errors (message, stack, cause chain), logs, `stats()` or
 * `util.inspect()` output; identifiers are always quoted; TLS options reach both drivers.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, sql } from '../../adapters/postgres/index.js';
import { Broker } from '../../adapters/amqp/index.js';
import { Outbox, Inbox } from '../../adapters/outbox/index.js';
import { deleteQueues } from '../support/amqp.js';
import { rejectionOf, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { backendsOf, createTestSchema } from '../support/pg.js';
import { ChaosProxy } from '../support/proxy.js';
import { canUseRabbitmqctl, rabbitmqctl } from '../support/rabbit-admin.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

/** Everything a value can show a reader: its inspection (cause chains, own fields) and JSON. */
function render(value: unknown): string {
  let json = '';
  try {
    json = JSON.stringify(value) ?? '';
  } catch {
    json = '';
  }
  const stack = value instanceof Error ? String(value.stack) : '';
  return `${inspect(value, { depth: Infinity, showHidden: true, getters: true })}\n${json}\n${stack}`;
}

/** Collects everything a logger is told. */
function recorder(): {
  out: string[];
  logger: {
    info(d: Record<string, unknown>, m: string): void;
    warn(d: Record<string, unknown>, m: string): void;
    error(d: Record<string, unknown>, m: string): void;
    debug(d: Record<string, unknown>, m: string): void;
  };
} {
  const out: string[] = [];
  const log = (d: Record<string, unknown>, m: string): void => void out.push(`${m} ${render(d)}`);
  return { out, logger: { info: log, warn: log, error: log, debug: log } };
}

describe('passwords never leak: PostgreSQL', () => {
  it('keeps the password out of errors, logs, stats() and inspect() through failures of every kind', async () => {
    // Trust authentication on the test server accepts any password: it still travels in the URL.
    const secret = `pgSecret-${randomBytes(6).toString('hex')}`;
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    const u = new URL(proxy.rewrite(databaseUrl()));
    u.password = secret;
    const { out, logger } = recorder();
    const seen: unknown[] = [];
    const app = uniqueName('sec_pg');
    const db = new Database({
      url: u.toString(),
      applicationName: app,
      logger,
      connectTimeout: 1_000,
      pool: { max: 2, acquireTimeout: 2_000 },
    });
    try {
      await db.query('select 1');
      const sub = await db.listen(uniqueName('sec'), {
        heartbeat: 500,
        reconnect: { initialDelay: 20, maxDelay: 100 },
        onError: (e) => seen.push(e),
      });
      seen.push(await rejectionOf(db.query('selec nonsense'))); // SQL error
      seen.push(await rejectionOf(db.query('select pg_sleep(5)', [], { timeout: 50 }))); // timeout
      // Its own text: the timed-out statement above can still show as active while its cancel lands.
      const busy = rejectionOf(db.query('select pg_sleep(5) as busy'));
      // Cut once the statement runs on the server (a fixed pause lost that race on a busy machine).
      await until(
        async () =>
          (await backendsOf(databaseUrl(), app)).some(
            (b) => b.state === 'active' && b.query === 'select pg_sleep(5) as busy',
          ),
        10_000,
        'the statement to run',
      );
      proxy.cutAll();
      seen.push(await busy); // connection lost mid-statement
      proxy.refuse(true);
      seen.push(await rejectionOf(db.query('select 1'))); // cannot connect
      proxy.refuse(false);
      await until(() => seen.length >= 5, 20_000, 'listener errors');
      seen.push(db.stats(), db, sub);
      await sub.close();
      // A refused login (unknown role) with the same password.
      const bad = new URL(databaseUrl());
      bad.username = uniqueName('nobody');
      bad.password = secret;
      const other = new Database({ url: bad.toString(), logger });
      seen.push(await rejectionOf(other.query('select 1')), other);
      await other.close();
      // Bad options quote the URL: redacted.
      seen.push(
        (() => {
          try {
            return new Database({ url: `mysql://me:${secret}@h/db` });
          } catch (e) {
            return e;
          }
        })(),
      );
      seen.push(
        (() => {
          try {
            return new Database({ url: u.toString(), connection: { password: secret }, queryTimeout: -1 });
          } catch (e) {
            return e;
          }
        })(),
      );
    } finally {
      await db.close();
      await proxy.close();
    }
    const text = [...seen.map(render), ...out].join('\n');
    expect(seen.filter((s) => s instanceof Error).length).toBeGreaterThanOrEqual(6);
    expect(text).toMatch(/ConnectionError|TimeoutError/); // the failures really were rendered
    expect(text).not.toContain(secret);
  }, 60_000);
});

describe('passwords never leak: RabbitMQ', () => {
  const user = uniqueName('connkit_sec');
  const secret = `mqS3cret-${randomBytes(6).toString('hex')}`;
  const q = uniqueName('sec_q');
  beforeAll(async () => {
    if (await canUseRabbitmqctl()) {
      await rabbitmqctl(
        'eval',
        `rabbit_auth_backend_internal:add_user(<<"${user}">>, <<"${secret}">>, <<"connkit-test">>), ` +
          `rabbit_auth_backend_internal:set_permissions(<<"${user}">>, <<"/">>, <<".*">>, <<".*">>, <<".*">>, <<"connkit-test">>).`,
      );
    } else {
      console.log(
        '[faults] rabbitmqctl is not usable here: the password check uses guest and refused logins only',
      );
    }
  }, 120_000);
  afterAll(async () => {
    await deleteQueues(amqpUrl(), [q]);
    if (await canUseRabbitmqctl()) await rabbitmqctl('delete_user', user).catch(() => undefined);
  }, 120_000);

  it('keeps the password out of errors, logs, events, stats() and inspect() through failures of every kind', async () => {
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    const u = new URL(proxy.rewrite(amqpUrl()));
    if (await canUseRabbitmqctl()) {
      u.username = user;
      u.password = secret;
    }
    const { out, logger } = recorder();
    const seen: unknown[] = [];
    // No 'error' listener: background errors go to the logger.
    const broker = new Broker({
      url: u.toString(),
      clientName: uniqueName('connkit_sec'),
      logger,
      reconnect: { initialDelay: 20, maxDelay: 100 },
      topology: { queues: [{ name: q }] },
    });
    broker.on('disconnect', (e: unknown) => seen.push(e));
    try {
      await broker.connect();
      seen.push(broker.stats(), broker);
      seen.push(await rejectionOf(broker.publish('', uniqueName('nowhere'), 'x'))); // unroutable
      seen.push(await rejectionOf(broker.publish(uniqueName('no_exchange'), 'k', 'x'))); // channel error
      seen.push(await rejectionOf(broker.call(q, 'x', { timeout: 50 }))); // rpc timeout
      proxy.cutAll();
      await until(() => broker.stats().reconnects >= 1 && broker.stats().connected, 10_000, 'reconnected');
      seen.push(broker.stats(), broker);
    } finally {
      await broker.close();
      await proxy.close();
    }
    // Refused logins: the same password, plain and URL-encoded with special characters.
    for (const password of [secret, `${secret}:@/%`]) {
      const bad = new URL(amqpUrl());
      bad.username = 'guest';
      bad.password = encodeURIComponent(password);
      const refused = new Broker({ url: bad.toString(), logger });
      seen.push(await rejectionOf(refused.connect()), refused.stats(), refused);
      seen.push(await rejectionOf(refused.sendToQueue(q, 'x')));
      await refused.close();
    }
    const text = [...seen.map(render), ...out].join('\n');
    expect(seen.filter((s) => s instanceof Error).length).toBeGreaterThanOrEqual(5);
    expect(text).toMatch(/ConnectionError/);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(`${secret}:@/%`));
  }, 60_000);
});

describe('identifiers are always quoted', () => {
  let schema: { name: string; drop(): Promise<void> };
  beforeAll(async () => {
    schema = await createTestSchema(databaseUrl());
  });
  afterAll(async () => schema.drop());

  it('Outbox and Inbox quote hostile table names instead of running them', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('sec_id') });
    await using broker = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_sec_id') });
    const outTable = `${schema.name}.out"; drop schema ${schema.name} cascade; --`;
    const inTable = `${schema.name}.in box"`;
    await new Outbox(db, broker, { table: outTable }).install();
    await new Inbox(db, { table: inTable }).install();
    const tables = await db.rows<{ tablename: string }>(
      'select tablename from pg_tables where schemaname = $1 order by 1',
      [schema.name],
    );
    expect(tables.map((t) => t.tablename).sort()).toEqual(
      ['in box"', `out"; drop schema ${schema.name} cascade; --`].sort(),
    );
  });

  it('sql never puts values into the text, whatever they contain', async () => {
    await using db = new Database({ url: databaseUrl(), applicationName: uniqueName('sec_sql') });
    const evil = "'); drop table pg_class; --";
    const q = sql`select ${evil}::text as v, ${sql.id('v"2')} from (select 1 as ${sql.id('v"2')}) t`;
    expect(q.text).not.toContain(evil);
    expect(await db.one(q)).toEqual({ v: evil, 'v"2': 1 });
  });
});

/** A TCP listener that records the first bytes each client sends; `answerSslRequest` plays PostgreSQL's 'S'. */
async function recordingServer(
  answerSslRequest: boolean,
): Promise<{ port: number; received: Buffer[]; close(): Promise<void> }> {
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (answerSslRequest && !answered && buf.length >= 8 && buf.readInt32BE(4) === 80877103) {
        answered = true;
        socket.write('S');
        buf = buf.subarray(8);
      }
      received.push(buf);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('TLS options reach the drivers', () => {
  it('Database: connection.ssl reaches pg (a TLS ClientHello with the given servername follows the SSLRequest)', async () => {
    const server = await recordingServer(true);
    const servername = `db-${randomBytes(4).toString('hex')}.connkit.test`;
    const db = new Database({
      url: `postgres://postgres@127.0.0.1:${server.port}/test`,
      connection: { ssl: { servername, rejectUnauthorized: true } },
      connectTimeout: 1_000,
      pool: { acquireTimeout: 2_000, createAttempts: 1 },
    });
    try {
      await expect(db.query('select 1')).rejects.toBeDefined();
      const hello = Buffer.concat(server.received.slice(-1));
      expect(hello[0]).toBe(0x16); // TLS handshake record
      expect(hello.includes(Buffer.from(servername))).toBe(true);
    } finally {
      await db.close();
      await server.close();
    }
  });

  it('Database: sslmode=require in the URL makes pg ask for TLS', async () => {
    const server = await recordingServer(true);
    const db = new Database({
      url: `postgres://postgres@127.0.0.1:${server.port}/test?sslmode=require`,
      connectTimeout: 1_000,
      pool: { acquireTimeout: 2_000, createAttempts: 1 },
    });
    try {
      await expect(db.query('select 1')).rejects.toBeDefined();
      expect(server.received.some((b) => b[0] === 0x16)).toBe(true);
    } finally {
      await db.close();
      await server.close();
    }
  });

  it('Broker: the tls option reaches amqplib (the ClientHello carries its servername)', async () => {
    const server = await recordingServer(false);
    const servername = `mq-${randomBytes(4).toString('hex')}.connkit.test`;
    const broker = new Broker({
      url: `amqps://guest:guest@127.0.0.1:${server.port}`,
      tls: { servername, rejectUnauthorized: true },
      connectTimeout: 1_000,
    });
    broker.on('error', () => undefined);
    try {
      await expect(broker.connect()).rejects.toBeDefined();
      expect(server.received.some((b) => b[0] === 0x16 && b.includes(Buffer.from(servername)))).toBe(true);
    } finally {
      await broker.close();
      await server.close();
    }
  });

  it('Broker: an amqps:// URL makes amqplib speak TLS, not plain AMQP', async () => {
    const server = await recordingServer(false);
    const broker = new Broker({ url: `amqps://guest:guest@127.0.0.1:${server.port}`, connectTimeout: 1_000 });
    broker.on('error', () => undefined);
    try {
      await expect(broker.connect()).rejects.toBeDefined();
      const first = server.received.find((b) => b.length > 0);
      expect(first?.[0]).toBe(0x16);
      expect(first?.subarray(0, 4).toString()).not.toBe('AMQP');
    } finally {
      await broker.close();
      await server.close();
    }
  });
});

/**
 * Proves the harness talks to the real services: raw `pg` and raw `amqplib` round trips, directly
 * and through the ChaosProxy (which later fault tests rely on).
 */
import amqp from 'amqplib';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteQueues, withAmqpChannel } from '../support/amqp.js';
import { uniqueName } from '../support/names.js';
import { createTestSchema, terminateBackends, withPgClient } from '../support/pg.js';
import { ChaosProxy } from '../support/proxy.js';
import { amqpUrl, databaseUrl } from '../support/services.js';
import { until } from '../support/async.js';

describe('harness: PostgreSQL', () => {
  it('runs a parameterised query on the real server', async () => {
    const row = await withPgClient(databaseUrl(), async (c) => {
      const res = await c.query<{ n: number; v: string }>('select $1::int + 1 as n, version() as v', [41]);
      return res.rows[0];
    });
    expect(row?.n).toBe(42);
    expect(row?.v).toMatch(/^PostgreSQL \d+/);
  });

  it('createTestSchema() gives an isolated schema that drop() removes', async () => {
    const schema = await createTestSchema(databaseUrl());
    await withPgClient(databaseUrl(), async (c) => {
      await c.query(`create table "${schema.name}".items (id int)`);
      await c.query(`insert into "${schema.name}".items values (1), (2)`);
      const res = await c.query(`select count(*)::int as n from "${schema.name}".items`);
      expect(res.rows[0].n).toBe(2);
    });
    await schema.drop();
    const left = await withPgClient(databaseUrl(), (c) =>
      c.query('select 1 from information_schema.schemata where schema_name = $1', [schema.name]),
    );
    expect(left.rowCount).toBe(0);
  });

  it('terminateBackends() kills a live connection, seen by the client as an error', async () => {
    const app = uniqueName('app');
    const client = new pg.Client({ connectionString: databaseUrl(), application_name: app });
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await client.connect();
    const ended = new Promise((r) => client.once('end', r));
    expect(await terminateBackends(databaseUrl(), app)).toBe(1);
    await ended;
    expect(errors.map((e) => e.message).join()).toMatch(/terminat/);
    await expect(client.query('select 1')).rejects.toThrow();
  });

  it('reaches PostgreSQL through the ChaosProxy, and cutAll() breaks the connection', async () => {
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    try {
      const client = new pg.Client({ connectionString: proxy.rewrite(databaseUrl()) });
      client.on('error', () => undefined);
      await client.connect();
      expect((await client.query('select 1 as one')).rows[0].one).toBe(1);
      expect(proxy.connections).toBe(1);
      proxy.cutAll();
      await expect(client.query('select 1')).rejects.toThrow();
      await client.end().catch(() => undefined);
    } finally {
      await proxy.close();
    }
  });
});

describe('harness: RabbitMQ', () => {
  const queues: string[] = [];
  afterAll(() => deleteQueues(amqpUrl(), queues));

  it('publishes with a confirm and consumes the same message', async () => {
    const queue = uniqueName('q');
    queues.push(queue);
    const connection = await amqp.connect(amqpUrl());
    connection.on('error', () => undefined);
    try {
      const ch = await connection.createConfirmChannel();
      await ch.assertQueue(queue, { durable: false });
      ch.sendToQueue(queue, Buffer.from('ping'), { messageId: 'm1' });
      await ch.waitForConfirms();
      const msg = await new Promise<amqp.ConsumeMessage>((resolve) => {
        void ch.consume(queue, (m) => m && resolve(m));
      });
      ch.ack(msg);
      expect(msg.content.toString()).toBe('ping');
      expect(msg.properties.messageId).toBe('m1');
    } finally {
      await connection.close();
    }
  });

  it('reaches RabbitMQ through the ChaosProxy, and cutAll() closes the connection', async () => {
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    try {
      const connection = await amqp.connect(proxy.rewrite(amqpUrl()));
      connection.on('error', () => undefined);
      const closed = new Promise((r) => connection.once('close', r));
      const queue = uniqueName('q');
      queues.push(queue);
      const ch = await connection.createChannel();
      ch.on('error', () => undefined);
      const ok = await ch.assertQueue(queue, { durable: false });
      expect(ok.queue).toBe(queue);
      expect(proxy.cutAll()).toBe(1);
      await closed;
    } finally {
      await proxy.close();
    }
  });

  it('withAmqpChannel() sees queue depth on the real broker', async () => {
    const queue = uniqueName('q');
    queues.push(queue);
    const depth = await withAmqpChannel(amqpUrl(), async (ch) => {
      await ch.assertQueue(queue, { durable: false });
      ch.sendToQueue(queue, Buffer.from('a'));
      ch.sendToQueue(queue, Buffer.from('b'));
      // checkQueue reflects published messages once the broker has routed them
      await until(
        async () => (await ch.checkQueue(queue)).messageCount === 2,
        10_000,
        'both messages routed',
      );
      return (await ch.checkQueue(queue)).messageCount;
    });
    expect(depth).toBe(2);
  });
});

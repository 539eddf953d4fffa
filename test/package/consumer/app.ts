/**
 * A TypeScript application that uses every entry point of the published package, the way a user
 * writes it. test/package/pack.test.ts type-checks it in a scratch project that installed the packed
 * tarball (strict, skipLibCheck off); the repository's own typecheck compiles it against the sources.
 * Nothing here runs: the point is that every type the API hands out is the real one, never `any`.
 */
import net from 'node:net';
import type pg from 'pg';
import { Pool, Semaphore, TaskGroup, TimeoutError, ConnkitError, waitFor, type PoolFactory } from 'connkit';
import {
  Database,
  DatabaseError,
  NoRowsError,
  sql,
  type DatabaseOptions,
  type QueryResult,
  type Notification,
} from 'connkit/postgres';
import { Broker, UnroutableError, type Message, type BrokerOptions, type Consumer } from 'connkit/amqp';
import { Inbox, Outbox } from 'connkit/outbox';

/** `true` only when `A` and `B` are the same type (an `any` on either side makes it `false`). */
type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;
type Expect<T extends true> = T;

interface Order {
  id: number;
  total: string;
}

// The pg types in connkit's API are the application's own @types/pg, not `any`.
export type PgTypes = [
  Expect<Equal<NonNullable<DatabaseOptions['connection']>, pg.ClientConfig>>,
  Expect<Equal<Parameters<Parameters<Database['withClient']>[0]>[0], pg.Client>>,
  Expect<Equal<QueryResult<Order>['fields'], pg.FieldDef[]>>,
  Expect<Equal<Awaited<ReturnType<Database['query']>>['rowCount'], number>>,
];
// The amqplib types reach the user too: the raw message is amqplib's own.
export type AmqpTypes = [
  Expect<Equal<IsAny<Message<Order>['raw']>, false>>,
  Expect<Equal<IsAny<BrokerOptions['topology']>, false>>,
];

const connection: pg.ClientConfig = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
await using db = new Database({ connection, applicationName: 'consumer', pool: { max: 4 } });

const result = await db.query<Order>(sql`select ${1}::int as id, ${'9.99'}::text as total`);
const firstId: number | undefined = result.rows[0]?.id;
const columns: string[] = result.fields.map((field) => field.name);
const order: Order = await db.one<Order>('select 1 as id, $1::text as total', ['9.99']);
const maybe: Order | null = await db.maybeOne<Order>('select 1 as id, $1::text as total where false', ['0']);
const pid: number = await db.withClient(async (client, signal) => {
  const res = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return signal.aborted ? -1 : (res.rows[0]?.pid ?? -1);
});
const moved: number = await db.transaction(
  async (tx) => {
    await tx.query('update accounts set balance = balance - $1 where id = $2', [10, firstId]);
    return tx.transaction(async (savepoint) => (await savepoint.rows<{ n: number }>('select 1 as n')).length);
  },
  { isolation: 'serializable', retries: 3, timeout: 5_000 },
);
for await (const row of db.stream<Order>('select * from orders', [], { batchSize: 500 })) {
  if (row.id > 10) break;
}
const subscription = await db.listen('orders');
for await (const note of subscription) {
  const payload: Notification['payload'] = note.payload;
  if (payload) break;
}
await subscription.close();
const copied: number = await db.copyFrom('copy t from stdin', ['1\n', '2\n']);

try {
  await db.one('select 1 where false');
} catch (err) {
  if (err instanceof NoRowsError) console.log(err.code);
  else if (err instanceof DatabaseError) console.log(err.code, err.retryable, err.constraint);
  else if (err instanceof TimeoutError || err instanceof ConnkitError) console.log(err.code);
}

await using broker = new Broker({
  url: 'amqp://guest:guest@127.0.0.1:5672',
  topology: { queues: [{ name: 'consumer.orders', options: { durable: true } }] },
});
await broker.connect({ signal: AbortSignal.timeout(10_000) });
await broker.publish('', 'consumer.orders', { id: 1, total: '9.99' } satisfies Order, { messageId: 'o-1' });
await broker.publish('', 'nowhere', 'x').catch((err: unknown) => {
  if (err instanceof UnroutableError) console.log(err.code);
});
const consumer: Consumer = broker.consume<Order>('consumer.orders', async (msg, signal) => {
  const total: string = msg.body.total;
  console.log(total, msg.attempt, msg.properties.messageId, signal.aborted);
});
await consumer.ready;
const sum: number = await broker.call<number>('consumer.rpc', { a: 1, b: 2 }, { timeout: 2_000 });

const outbox = new Outbox(db, broker);
const inbox = new Inbox(db);
await outbox.install();
await inbox.install();
const messageId: string = await db.transaction((tx) =>
  outbox.enqueue(tx, { exchange: '', routingKey: 'consumer.orders', body: order }),
);
await using relay = outbox.start();
const inboxConsumer = broker.consume<Order>(
  'consumer.orders',
  inbox.handler(async (msg, tx) => {
    await tx.query('insert into applied (id) values ($1)', [msg.body.id]);
  }),
);
await inboxConsumer.ready;
await Promise.all([consumer.close(), inboxConsumer.close()]);

const factory: PoolFactory<net.Socket> = {
  create: (signal) =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: 5432, signal });
      socket.once('connect', () => resolve(socket)).once('error', reject);
    }),
  destroy: async (socket) => void socket.destroy(),
  validate: (socket) => !socket.destroyed,
};
await using pool = new Pool<net.Socket>(factory, { max: 2, acquireTimeout: 1_000 });
const remote: string | undefined = await pool.use(async (socket) => socket.remoteAddress, { timeout: 500 });
const borrowed: number = pool.stats().borrowed;

const semaphore = new Semaphore(2);
const results: number[] = await TaskGroup.run(async (group) => {
  const tasks = [1, 2, 3].map((n) => group.spawn(() => semaphore.use(async () => n * 2)));
  return Promise.all(tasks);
});
const fast: string = await waitFor(async (signal) => (signal.aborted ? 'late' : 'ok'), 1_000);

console.log(
  firstId,
  columns,
  maybe,
  pid,
  moved,
  copied,
  sum,
  messageId,
  await relay.stats(),
  inbox.stats(),
  remote,
  borrowed,
  results,
  fast,
);

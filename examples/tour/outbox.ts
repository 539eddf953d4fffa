import { Broker } from 'connkit/amqp';
import { Inbox, Outbox } from 'connkit/outbox';
import { Database } from 'connkit/postgres';

await using db = new Database({ url: process.env['DATABASE_URL'] });
await using broker = new Broker({
  url: process.env['AMQP_URL'],
  topology: { queues: [{ name: 'tour.orders' }] },
});
const outbox = new Outbox(db, broker);
const inbox = new Inbox(db, { keep: 7 * 86_400_000 }); // ids are remembered for 7 days
await outbox.install();
await inbox.install();
await using pruner = inbox.startPruning(); // deletes older ids, in small batches

// Producer: the event is published if and only if this transaction commits.
await db.transaction(async (tx) => {
  await tx.query('select 1 -- insert the order here');
  await outbox.enqueue(tx, { exchange: '', routingKey: 'tour.orders', body: { orderId: 7 } });
});
await using relay = outbox.start();

// Consumer: each message id is applied once per queue, in the same transaction as its effect.
const consumer = broker.consume<{ orderId: number }>(
  'tour.orders',
  inbox.handler(async (msg, tx) => {
    await tx.query('select $1::int -- apply the order here', [msg.body.orderId]);
  }),
);
await consumer.ready;
console.log(await relay.stats(), inbox.stats(), pruner.stats());
await consumer.close();

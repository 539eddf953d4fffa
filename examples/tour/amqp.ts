import { Broker, UnroutableError } from 'connkit/amqp';

await using broker = new Broker({
  url: process.env['AMQP_URL'],
  topology: { queues: [{ name: 'tour.jobs', options: { durable: true } }, { name: 'tour.rpc' }] },
});
await broker.connect();

// publish resolves on the broker's confirm; every publish settles (ack, nack, return, timeout, close).
await broker.sendToQueue('tour.jobs', { id: 1 }, { timeout: 5000 });
await broker
  .publish('', 'no.such.queue', 'x')
  .catch((err: unknown) => console.log(err instanceof UnroutableError));

// Consumers: resolve → ack, throw → retry through a delay queue, then dead-letter.
const consumer = broker.consume<{ id: number }>(
  'tour.jobs',
  async (msg, signal) => {
    console.log('job', msg.body.id, 'attempt', msg.attempt, signal.aborted);
  },
  { concurrency: 4, retry: { attempts: 3, delay: [100, 1000] } },
);
await consumer.ready;

// RPC over direct reply-to.
const server = broker.serve<{ a: number; b: number }, number>(
  'tour.rpc',
  async (msg) => msg.body.a + msg.body.b,
);
await server.ready;
console.log(await broker.call<number>('tour.rpc', { a: 1, b: 2 }, { timeout: 2000 })); // 3
await Promise.all([consumer.close(), server.close()]);

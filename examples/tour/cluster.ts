import { Broker } from 'connkit/amqp';

// The cluster's nodes in the order to try them: AMQP_URLS=amqp://u:p@a,amqp://u:p@b,amqp://u:p@c
const urls = (process.env['AMQP_URLS'] ?? 'amqp://guest:guest@localhost:5672').split(',');
await using broker = new Broker({
  urls,
  heartbeat: 5000, // a node gone silent is left after 5–7.5 s
  topology: {
    queues: [
      // Replicated on every node; a poison message is dead-lettered after 5 redeliveries.
      {
        name: 'tour.orders',
        type: 'quorum',
        deliveryLimit: 5,
        options: { deadLetterExchange: '', deadLetterRoutingKey: 'tour.orders.dead' },
      },
      { name: 'tour.orders.dead', type: 'quorum' },
      { name: 'tour.events', type: 'stream' },
    ],
  },
});
// After a node loss: the next URL of the list, consumers back, unconfirmed messages re-published.
broker.on('connect', ({ url }: { url: string }) => console.log('connected to', url));
await broker.sendToQueue('tour.orders', { orderId: 7 }, { messageId: 'order-7' });

// A quorum queue's retry queues are quorum queues too: a waiting retry survives a node loss.
const orders = broker.consume<{ orderId: number }>(
  'tour.orders',
  async (msg) => console.log('order', msg.body.orderId),
  { retry: { attempts: 3, delay: 1000 } },
);

// A stream is read from an offset: store msg.offset, and start after it next time.
await broker.sendToQueue('tour.events', { kind: 'order.created' });
let lastSeen = -1;
const events = broker.consume(
  'tour.events',
  async (msg) => {
    lastSeen = msg.offset ?? lastSeen;
  },
  { offset: 'first' },
);
await Promise.all([orders.ready, events.ready]);
console.log('on', broker.stats().url, '- next time: { offset:', lastSeen + 1, '}');
await Promise.all([orders.close(), events.close()]);

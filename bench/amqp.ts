/**
 * Suite `amqp`: confirmed publishing. 20 000 messages of 128 bytes per round to a transient queue,
 * 256 in flight for every contender, each publish awaited until the broker's confirm:
 * connkit `broker.sendToQueue` (persistent, mandatory, messageId + timestamp: its defaults) vs raw
 * amqplib `ConfirmChannel.sendToQueue` with a callback, given the same properties, and the peers
 * rabbitmq-client (`createPublisher({ confirm: true })`) and amqp-connection-manager
 * (`ChannelWrapper.sendToQueue`, confirm channel). The consume side is suite `amqp-consume`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import amqpcm from 'amqp-connection-manager';
import { Connection as RabbitConnection, type Publisher as RabbitPublisher } from 'rabbitmq-client';
import { Broker } from '../adapters/amqp/index.js';
import {
  AMQP_URL,
  benchQueue,
  declareQueues,
  deleteQueues,
  MESSAGES,
  PAYLOAD,
  publishProps,
  purge,
  WINDOW,
  windowed,
} from './_amqp-common.js';
import type { Suite } from './harness.js';

const queues = {
  connkit: benchQueue('pub_ck'),
  amqplib: benchQueue('pub_raw'),
  rabbit: benchQueue('pub_rc'),
  acm: benchQueue('pub_acm'),
};

let broker: Broker | undefined;
let rawConn: amqp.ChannelModel | undefined;
let rawCh: amqp.ConfirmChannel | undefined;
let rabbit: RabbitConnection | undefined;
let rabbitPub: RabbitPublisher | undefined;
let acm: ReturnType<typeof amqpcm.connect> | undefined;
let acmCh: ReturnType<ReturnType<typeof amqpcm.connect>['createChannel']> | undefined;

export const suite: Suite = {
  name: 'amqp',
  description: `confirmed sendToQueue, ${MESSAGES} × 128 B per round, ${WINDOW} in flight`,
  rounds: 5,
  settleMs: 100,
  contenders: [
    {
      name: 'connkit Broker.sendToQueue',
      async setup() {
        await declareQueues(Object.values(queues));
        broker = new Broker({ url: AMQP_URL, clientName: 'connkit-bench' });
        broker.on('error', () => undefined);
        await broker.connect();
      },
      async run() {
        const q = queues.connkit;
        const timed = await windowed(MESSAGES, WINDOW, () => broker!.sendToQueue(q, PAYLOAD));
        await purge(q);
        return { ops: MESSAGES, ...timed };
      },
      async teardown() {
        await broker?.close();
      },
    },
    {
      name: 'amqplib ConfirmChannel',
      async setup() {
        rawConn = await amqp.connect(AMQP_URL);
        rawConn.on('error', () => undefined);
        rawCh = await rawConn.createConfirmChannel();
        rawCh.on('error', () => undefined);
      },
      async run() {
        const q = queues.amqplib;
        const ch = rawCh!;
        const timed = await windowed(
          MESSAGES,
          WINDOW,
          () =>
            new Promise<void>((resolve, reject) =>
              ch.sendToQueue(q, PAYLOAD, publishProps(), (err) => (err ? reject(err as Error) : resolve())),
            ),
        );
        await purge(q);
        return { ops: MESSAGES, ...timed };
      },
      async teardown() {
        await rawConn?.close();
      },
    },
    {
      name: 'rabbitmq-client Publisher',
      async setup() {
        rabbit = new RabbitConnection(AMQP_URL);
        rabbit.on('error', () => undefined);
        rabbitPub = rabbit.createPublisher({ confirm: true, maxAttempts: 1 });
      },
      async run() {
        const q = queues.rabbit;
        const pub = rabbitPub!;
        const timed = await windowed(MESSAGES, WINDOW, () =>
          pub.send(
            {
              routingKey: q,
              durable: true,
              mandatory: true,
              messageId: randomUUID(),
              timestamp: Math.floor(Date.now() / 1000),
              contentType: 'application/octet-stream',
            },
            PAYLOAD,
          ),
        );
        await purge(q);
        return { ops: MESSAGES, ...timed };
      },
      async teardown() {
        await rabbitPub?.close();
        await rabbit?.close();
      },
    },
    {
      name: 'amqp-connection-manager',
      async setup() {
        acm = amqpcm.connect([AMQP_URL]);
        acm.on('connectFailed', () => undefined);
        acmCh = acm.createChannel({ confirm: true });
        await acmCh.waitForConnect();
      },
      async run() {
        const q = queues.acm;
        const ch = acmCh!;
        const timed = await windowed(MESSAGES, WINDOW, () => ch.sendToQueue(q, PAYLOAD, publishProps()));
        await purge(q);
        return { ops: MESSAGES, ...timed };
      },
      async teardown() {
        await acmCh?.close();
        await acm?.close();
        await deleteQueues(Object.values(queues));
      },
    },
  ],
};

/**
 * Suite `amqp-consume`: consume + ack. Each round a transient queue is filled (untimed) with 20 000
 * messages of 128 bytes, then drained with prefetch 256 by every contender, acking each message:
 * connkit `broker.consume` (an empty async handler, concurrency 256: resolve → ack) vs raw amqplib
 * `channel.consume` + `channel.ack`, rabbitmq-client `createConsumer` and amqp-connection-manager
 * `ChannelWrapper.consume`. The publish side is suite `amqp`.
 * @module
 */
import amqp from 'amqplib';
import amqpcm from 'amqp-connection-manager';
import { Connection as RabbitConnection } from 'rabbitmq-client';
import { Broker } from '../adapters/amqp/index.js';
import { AMQP_URL, benchQueue, declareQueues, deleteQueues, fill, MESSAGES, WINDOW } from './_amqp-common.js';
import { startClock } from './harness.js';
import type { RoundResult, Suite } from './harness.js';

const queues = {
  connkit: benchQueue('con_ck'),
  amqplib: benchQueue('con_raw'),
  rabbit: benchQueue('con_rc'),
  acm: benchQueue('con_acm'),
};

/** Fills `q`, then times `consume` until `MESSAGES` were acked. */
async function round(
  q: string,
  consume: (done: () => void) => Promise<() => Promise<void>>,
): Promise<RoundResult> {
  await fill(q, MESSAGES);
  let n = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const clock = startClock();
  const stop = await consume(() => {
    if (++n === MESSAGES) finish();
  });
  await finished;
  const timed = clock.read();
  await stop();
  return { ops: MESSAGES, ...timed };
}

let broker: Broker | undefined;
let rawConn: amqp.ChannelModel | undefined;
let rabbit: RabbitConnection | undefined;
let acm: ReturnType<typeof amqpcm.connect> | undefined;

export const suite: Suite = {
  name: 'amqp-consume',
  description: `consume + ack, ${MESSAGES} × 128 B per round, prefetch ${WINDOW}`,
  rounds: 5,
  settleMs: 100,
  contenders: [
    {
      name: 'connkit Broker.consume',
      async setup() {
        await declareQueues(Object.values(queues));
        broker = new Broker({ url: AMQP_URL, clientName: 'connkit-bench' });
        broker.on('error', () => undefined);
        await broker.connect();
      },
      run: () =>
        round(queues.connkit, async (done) => {
          const consumer = broker!.consume(queues.connkit, async () => done(), {
            prefetch: WINDOW,
            concurrency: WINDOW,
          });
          await consumer.ready;
          return () => consumer.close();
        }),
      async teardown() {
        await broker?.close();
      },
    },
    {
      name: 'amqplib channel.consume',
      async setup() {
        rawConn = await amqp.connect(AMQP_URL);
        rawConn.on('error', () => undefined);
      },
      run: () =>
        round(queues.amqplib, async (done) => {
          const ch = await rawConn!.createChannel();
          await ch.prefetch(WINDOW);
          await ch.consume(queues.amqplib, (msg) => {
            if (!msg) return;
            ch.ack(msg);
            done();
          });
          return () => ch.close();
        }),
      async teardown() {
        await rawConn?.close();
      },
    },
    {
      name: 'rabbitmq-client createConsumer',
      async setup() {
        rabbit = new RabbitConnection(AMQP_URL);
        rabbit.on('error', () => undefined);
      },
      run: () =>
        round(queues.rabbit, async (done) => {
          const sub = rabbit!.createConsumer(
            { queue: queues.rabbit, qos: { prefetchCount: WINDOW }, concurrency: WINDOW },
            async () => done(),
          );
          sub.on('error', () => undefined);
          return () => sub.close();
        }),
      async teardown() {
        await rabbit?.close();
      },
    },
    {
      name: 'amqp-connection-manager',
      async setup() {
        acm = amqpcm.connect([AMQP_URL]);
        acm.on('connectFailed', () => undefined);
      },
      run: () =>
        round(queues.acm, async (done) => {
          const ch = acm!.createChannel({});
          ch.on('error', () => undefined);
          await ch.waitForConnect();
          await ch.consume(
            queues.acm,
            (msg) => {
              ch.ack(msg);
              done();
            },
            { prefetch: WINDOW },
          );
          return () => ch.close();
        }),
      async teardown() {
        await acm?.close();
        await deleteQueues(Object.values(queues));
      },
    },
  ],
};

/**
 * Suite `amqp-scaling`: confirmed publishing of 128 B messages to a transient queue with 1, 64 and 256
 * messages in flight — connkit `Broker.sendToQueue` vs raw amqplib `ConfirmChannel.sendToQueue` with
 * the same properties (persistent, mandatory, messageId, timestamp), each publish awaited until the
 * broker's confirm. One connection per library serves every level. A bar chart of median msgs/s per
 * library and window follows the table.
 * @module
 */
import { performance } from 'node:perf_hooks';
import amqp from 'amqplib';
import { Broker } from '../adapters/amqp/index.js';
import { scalingChart } from './_chart.js';
import { refCounted, startClock } from './harness.js';
import type { ScalingPoint } from './_chart.js';
import {
  AMQP_URL,
  benchQueue,
  declareQueues,
  deleteQueues,
  PAYLOAD,
  publishProps,
  purge,
} from './_amqp-common.js';
import type { Contender, RoundResult, Suite } from './harness.js';

/** Messages in flight, and messages per round at that window (~0.5–1 s a round). */
const LEVELS: ReadonlyArray<readonly [window: number, messages: number]> = [
  [1, 3_000],
  [64, 10_000],
  [256, 10_000],
];
const SAMPLE_EVERY = 16;

const queues = { connkit: benchQueue('scale_ck'), amqplib: benchQueue('scale_raw') };
let broker: Broker | undefined;
let rawConn: amqp.ChannelModel | undefined;
let rawCh: amqp.ConfirmChannel | undefined;

/** Opens both libraries' connections. */
async function open(): Promise<void> {
  await declareQueues(Object.values(queues));
  broker = new Broker({ url: AMQP_URL, clientName: 'connkit-bench' });
  broker.on('error', () => undefined);
  await broker.connect();
  rawConn = await amqp.connect(AMQP_URL);
  rawConn.on('error', () => undefined);
  rawCh = await rawConn.createConfirmChannel();
  rawCh.on('error', () => undefined);
}

async function close(): Promise<void> {
  await broker?.close();
  await rawConn?.close();
  await deleteQueues(Object.values(queues));
}

/** Both libraries' connections, opened for the first contender and closed after the last. */
const connections = refCounted(open, close);

/** `total` publishes with at most `window` in flight, one latency in 16 sampled; then purges `q`. */
async function publish(
  q: string,
  total: number,
  window: number,
  op: () => Promise<unknown>,
): Promise<RoundResult> {
  let next = 0;
  const latenciesMs: number[] = [];
  const worker = async (): Promise<void> => {
    for (let i = next++; i < total; i = next++) {
      if (i % SAMPLE_EVERY === 0) {
        const s = performance.now();
        await op();
        latenciesMs.push(performance.now() - s);
      } else await op();
    }
  };
  const clock = startClock();
  await Promise.all(Array.from({ length: window }, worker));
  const timed = clock.read();
  await purge(q);
  return { ops: total, ...timed, latenciesMs };
}

const contenders: Contender[] = [];
const points: ScalingPoint[] = [];
for (const [window, messages] of LEVELS) {
  const add = (library: string, run: () => Promise<RoundResult>): void => {
    const name = `${library} · ${window} in flight`;
    contenders.push({ name, setup: connections.setup, run, teardown: connections.teardown });
    points.push({ library, level: window, contender: name });
  };
  add('connkit Broker.sendToQueue', () =>
    publish(queues.connkit, messages, window, () => broker!.sendToQueue(queues.connkit, PAYLOAD)),
  );
  add('amqplib ConfirmChannel', () =>
    publish(
      queues.amqplib,
      messages,
      window,
      () =>
        new Promise<void>((resolve, reject) =>
          rawCh!.sendToQueue(queues.amqplib, PAYLOAD, publishProps(), (err) =>
            err ? reject(err as Error) : resolve(),
          ),
        ),
    ),
  );
}

export const suite: Suite = {
  name: 'amqp-scaling',
  description: `confirmed sendToQueue of 128 B at ${LEVELS.map(([w]) => w).join('/')} messages in flight (${LEVELS.map(([, m]) => m).join('/')} per round)`,
  rounds: 5,
  maxTimeMs: 90_000,
  settleMs: 100,
  contenders,
  report: (result) => scalingChart(result, points, 'in flight'),
};

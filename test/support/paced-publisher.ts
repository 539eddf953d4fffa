/** The confirmed-publish load of the AMQP fault tests: a steady stream, counted by a FaultTally. */
import { Semaphore } from '../../src/semaphore.js';
import { sleep } from '../../src/timeout.js';
import type { FaultTally } from './fault-tally.js';

/** What {@link pacedPublisher} sends, how fast, and where confirmed ids go. */
export interface PacedPublisherOptions {
  tally: FaultTally;
  /** Deadline of one publish as the tally counts it, in ms. */
  timeout: number;
  /** Message `i` gets the id `${idPrefix}-${i}`. */
  idPrefix: string;
  /** Sends message `i` under `messageId`; resolves when the broker confirmed it. */
  send: (messageId: string, i: number) => Promise<unknown>;
  /** Ids of the confirmed messages are pushed here. */
  confirmed: string[];
  /** Publishing ends once this is true. */
  stopped: () => boolean;
  /** A pause of `pauseMs` after every `pauseEvery`-th publish, so faults land mid-stream. */
  pauseEvery: number;
  pauseMs: number;
}

/** Publishes with at most 32 unconfirmed until `stopped()`, then waits for every outcome. */
export async function pacedPublisher(o: PacedPublisherOptions): Promise<void> {
  const window = new Semaphore(32);
  const running: Promise<unknown>[] = [];
  for (let i = 0; !o.stopped(); i++) {
    await window.acquire();
    const messageId = `${o.idPrefix}-${i}`;
    running.push(
      o.tally
        .track(o.timeout, () => o.send(messageId, i))
        .then((r) => {
          if (r.ok) o.confirmed.push(messageId);
          window.release();
        }),
    );
    if (i % o.pauseEvery === 0) await sleep(o.pauseMs);
  }
  await Promise.all(running);
}

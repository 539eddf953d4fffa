/**
 * {@link watchSilence}: notices a broker that went silent — a node stopped (SIGSTOP), a partition
 * that drops packets without a reset — sooner than amqplib does. RabbitMQ sends something (at
 * least a heartbeat frame) every half heartbeat interval; amqplib calls the peer dead only after
 * two to three whole intervals without traffic. Counting the socket's received bytes instead
 * catches the silence after one interval: two server beats missed.
 * @module
 */
import { now, startTimer } from '../../src/internal/index.js';

/**
 * What the watch reads: a socket's received byte count (`net.Socket#bytesRead`).
 *
 * @example
 * ```ts
 * const socket: ByteCounter = net.connect(5672);
 * ```
 */
export interface ByteCounter {
  readonly bytesRead: number;
}

/**
 * Checks `socket` every quarter of `interval` ms and calls `onSilent(ms)` once when nothing has
 * arrived for more than `interval` ms. Time when this process itself did not run (the event loop
 * blocked, the checks late) is not counted as silence: the bytes may be waiting unread in the
 * kernel. Returns the function that stops the watch. An `interval` of 0 or `Infinity` (heartbeats
 * off) watches nothing.
 *
 * @example
 * ```ts
 * const stop = watchSilence(socket, 10_000, (ms) => socket.destroy(new Error(`silent for ${ms} ms`)));
 * socket.on('close', stop);
 * ```
 */
export function watchSilence(
  socket: ByteCounter,
  interval: number,
  onSilent: (silentMs: number) => void,
): () => void {
  if (!(interval > 0) || interval === Infinity) return () => undefined;
  const period = interval / 4;
  let seen = socket.bytesRead;
  let quietSince = now();
  let lastCheck = quietSince;
  let cancel: (() => void) | undefined;
  const check = (): void => {
    const t = now();
    const bytes = socket.bytesRead;
    if (bytes !== seen || t - lastCheck > 2 * period) {
      // Traffic, or this process was not running: either way, start counting again.
      seen = bytes;
      quietSince = t;
    } else if (t - quietSince > interval) {
      cancel = undefined;
      onSilent(Math.round(t - quietSince));
      return;
    }
    lastCheck = t;
    cancel = startTimer(period, check, true);
  };
  cancel = startTimer(period, check, true);
  return () => {
    cancel?.();
    cancel = undefined;
  };
}

/**
 * One amqplib connection at the edges of its life: {@link dial} opens it (TLS for `amqps:`, the
 * connection's name, the connect timeout), {@link hangUp} closes it within a deadline,
 * {@link destroySocket} drops it at once, and {@link isFatal} tells a refusal that retrying cannot fix.
 * @module
 */
import amqp, { type ChannelModel } from 'amqplib';
import { MAX_TIMEOUT, startTimer } from '../../src/internal/index.js';
import type { ResolvedBrokerOptions } from './options.js';

const noop = (): void => undefined;

/**
 * Opens a connection to `url` (a URL of `Credentials.dial`).
 *
 * @example
 * ```ts
 * const model = await dial('amqp://guest:guest@localhost?heartbeat=10', opts);
 * ```
 */
export function dial(url: string, opts: ResolvedBrokerOptions): Promise<ChannelModel> {
  const timeout = opts.connectTimeout;
  // Nagle stays on (amqplib's default): a publish is one write, and measured on 2 cores noDelay
  // cost ~2x the socket-write CPU and some throughput under confirm streams.
  return amqp
    .connect(url, {
      ...(url.startsWith('amqps:') ? opts.tls : undefined),
      // The socket's own timer: Node refuses Infinity and truncates past 2^31-1 ms (0: none).
      timeout: timeout === Infinity ? 0 : Math.min(timeout, MAX_TIMEOUT),
      clientProperties: { connection_name: opts.clientName },
    })
    .then((model) => {
      coalesceWrites(model);
      return model;
    });
}

interface AmqplibMux {
  out?: { cork?: () => void; uncork?: () => void };
  _readIncoming?: () => void;
}

/**
 * Makes each flush of amqplib's frame multiplexer one socket write. amqplib queues every message's
 * frames per channel and its `Mux` writes them to the socket in a `setImmediate`, one `write()` (and
 * one system call) per message: for 256 publishes issued together that was 256 system calls, a
 * quarter of the process's CPU under an outbox relay (measured with `--cpu-prof`). Corked for the
 * flush, the socket sends what the flush wrote in one `writev` (in pieces of its high-water mark:
 * past it `write()` returns false and the mux waits for `'drain'`, as before). Frames and their
 * order are untouched; a flush of one message costs what it did. Without the internals it expects
 * (another amqplib), it does nothing.
 */
function coalesceWrites(model: ChannelModel): void {
  const mux = (model as unknown as AmqplibInternals).connection?.muxer;
  const out = mux?.out;
  const flush = mux?._readIncoming;
  if (typeof flush !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function')
    return;
  const { cork, uncork } = { cork: out.cork.bind(out), uncork: out.uncork.bind(out) };
  mux!._readIncoming = function (this: AmqplibMux) {
    cork();
    try {
      flush.call(this);
    } finally {
      uncork();
    }
  };
}

/**
 * `model.close()`, or — when the broker has not confirmed the close within `timeout` ms (a dead
 * peer) — its socket destroyed, which makes amqplib close the connection and emit `'close'`.
 *
 * @example
 * ```ts
 * await hangUp(model, deadline.remaining());
 * ```
 */
export async function hangUp(model: ChannelModel, timeout: number): Promise<void> {
  let cancel = noop;
  const closed = await Promise.race([
    model.close().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (cancel = startTimer(timeout, () => resolve(false)))),
  ]);
  cancel();
  if (!closed) {
    destroySocket(
      model,
      new Error(`connkit/amqp: the broker did not confirm the close within ${timeout} ms`),
    );
  }
}

interface AmqplibInternals {
  connection?: {
    stream?: { destroy(err: Error): void; bytesRead?: number };
    heartbeat?: number;
    muxer?: AmqplibMux;
  };
}

/**
 * The connection's socket (amqplib keeps it as `connection.stream`), for its byte counters.
 *
 * @example
 * ```ts
 * const socket = socketOf(model); // socket?.bytesRead
 * ```
 */
export function socketOf(model: ChannelModel): { readonly bytesRead: number } | undefined {
  const stream = (model as unknown as AmqplibInternals).connection?.stream;
  return typeof stream?.bytesRead === 'number' ? (stream as { bytesRead: number }) : undefined;
}

/**
 * The heartbeat interval the broker and amqplib agreed on, in ms (0: none).
 *
 * @example
 * ```ts
 * negotiatedHeartbeat(model); // 10000
 * ```
 */
export function negotiatedHeartbeat(model: ChannelModel): number {
  const seconds = (model as unknown as AmqplibInternals).connection?.heartbeat;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : 0;
}

/**
 * Fails the connection's socket with `error`: amqplib has no forced close, and this is the way to
 * one — it emits `'error'`, fails every channel's pending work and emits `'close'`.
 *
 * @example
 * ```ts
 * destroySocket(model, new Error('the broker went silent'));
 * ```
 */
export function destroySocket(model: ChannelModel, error: Error): void {
  (model as unknown as AmqplibInternals).connection?.stream?.destroy(error);
}

/**
 * Access refused (bad credentials or vhost): retrying cannot help before the first success.
 *
 * @example
 * ```ts
 * if (!everConnected && isFatal(err)) giveUp(err);
 * ```
 */
export function isFatal(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /ACCESS[_-]REFUSED|NOT_ALLOWED|403|530/.test(message);
}

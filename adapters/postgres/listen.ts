/**
 * {@link listen}: validates a LISTEN request and opens its {@link Subscription}.
 * @module
 */
import {
  backoffDelay,
  checkDuration,
  checkInteger,
  checkSignal,
  type Logger,
} from '../../src/internal/index.js';
import type { ListenConnect, ListenOptions } from './listen-options.js';
import { checkChannel } from './notify.js';
import { start, Subscription, type SubscriptionLimits } from './subscription.js';

/**
 * Validates what `listen()` takes, synchronously (`TypeError`/`RangeError` naming the bad value).
 *
 * @example
 * ```ts
 * const limits = readListenOptions('jobs', { heartbeat: 10_000 }, logger);
 * ```
 */
export function readListenOptions(
  channel: string,
  opts: ListenOptions,
  logger: Logger | undefined,
): SubscriptionLimits {
  checkChannel(channel);
  checkSignal(opts.signal);
  const maxBuffered = checkInteger(opts.maxBuffered, 'maxBuffered', 1000, 1);
  const heartbeat = checkDuration(opts.heartbeat, 'heartbeat', 30_000);
  if (heartbeat === Infinity) throw new RangeError('heartbeat must be finite (0 disables it), got Infinity');
  if (opts.reconnect !== undefined) backoffDelay(1, opts.reconnect); // validates now, not at the first loss
  return { maxBuffered, heartbeat, logger };
}

/**
 * Subscribes to `channel` on a dedicated connection opened with `connect` (not a pooled one: the
 * session's LISTEN state must not leak into a pool). The channel is sent as a quoted identifier, so
 * it is case-sensitive and cannot inject SQL; it must be 1–63 bytes without NUL. The first connect
 * is not retried: its failure rejects (`DatabaseError`/`ConnectionError`, or `signal.reason`).
 * Bad arguments throw synchronously; an aborted signal rejects without connecting.
 *
 * @example
 * ```ts
 * const sub = await listen((signal) => PgConnection.open(settings, { signal, deadline }), 'jobs', { onReconnect: () => pollJobs() });
 * for await (const n of sub) handle(n.payload);
 * ```
 */
export function listen(
  connect: ListenConnect,
  channel: string,
  opts: ListenOptions = {},
  logger?: Logger,
): Promise<Subscription> {
  return subscribe(connect, channel, opts, readListenOptions(channel, opts, logger));
}

/**
 * {@link listen} with options already read by {@link readListenOptions}.
 *
 * @example
 * ```ts
 * const sub = await subscribe(connect, 'jobs', opts, readListenOptions('jobs', opts, logger));
 * ```
 */
export function subscribe(
  connect: ListenConnect,
  channel: string,
  opts: ListenOptions,
  limits: SubscriptionLimits,
): Promise<Subscription> {
  if (opts.signal?.aborted) return Promise.reject(opts.signal.reason as Error);
  return new Subscription(connect, channel, opts, limits)[start]();
}

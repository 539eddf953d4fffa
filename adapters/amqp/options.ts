/**
 * Options of the {@link Broker}: documented, defaulted and validated in one place.
 * @module
 */
import { checkDuration, checkInteger, describeValue, type Logger } from '../../src/internal/index.js';
import type { ConnectionOptions } from 'node:tls';
import type { Topology } from './topology.js';

/**
 * The kit's {@link Logger} (details first, then the message — pino's signature). Where the broker
 * reports background failures (a lost connection, a consumer that could not subscribe) when nobody
 * listens to its `'error'` event, and reconnects (`info`).
 *
 * @example
 * ```ts
 * new Broker({ url, logger: pino() }); // or console
 * ```
 */
export type BrokerLogger = Logger;

/**
 * Reconnect backoff: `min(maxDelay, initialDelay * factor ** (attempt - 1))`, with equal jitter
 * (uniform in `[d/2, d)`), from core `backoffDelay`.
 *
 * @example
 * ```ts
 * new Broker({ url, reconnect: { initialDelay: 100, maxDelay: 5000 } });
 * ```
 */
export interface ReconnectOptions {
  /** First delay in milliseconds. @default 200 */
  initialDelay?: number;
  /** Longest delay in milliseconds. @default 30_000 */
  maxDelay?: number;
  /** Growth per attempt. @default 2 */
  factor?: number;
}

/**
 * What a publish does when the broker nacks it. A nack is usually final (a queue full with
 * `x-overflow: reject-publish`), but RabbitMQ 3.10 has a channel-level fault: a channel whose first
 * publish to a quorum queue comes right after the queue leader's node died nacks that publish and
 * every later one, while channels opened a moment later are fine. So a nack retires the channel:
 * publishing pauses for `delay` ms (doubling while fresh channels keep nacking, up to 8 × `delay`),
 * then goes on over a fresh channel, where the nacked message is published again — at most
 * `attempts` times, and only while its publish timeout leaves room for the pause. A nack past
 * that rejects with `NackError`. `attempts: 0` makes the first nack final (no pause, no new channel).
 *
 * @example
 * ```ts
 * new Broker({ urls, nackRetry: { attempts: 3, delay: 250 } });
 * ```
 */
export interface NackRetryOptions {
  /** Times a nacked message is published again on a fresh channel. @default 3 */
  attempts?: number;
  /** Pause in milliseconds before the fresh channel after the first nack. @default 250 */
  delay?: number;
}

/**
 * Options of `new Broker(options)`.
 *
 * @example
 * ```ts
 * const broker = new Broker({ urls: ['amqp://a', 'amqp://b'], clientName: 'billing', heartbeat: 5000 });
 * ```
 */
export interface BrokerOptions {
  /** Broker URL (`amqp://user:pass@host:5672/vhost`). One of `url`/`urls` is required. */
  url?: string | undefined;
  /** Several broker URLs tried in turn (cluster failover); the first that answers wins. */
  urls?: string[] | undefined;
  /** Heartbeat interval in milliseconds (rounded to whole seconds on the wire); 0 disables. @default 10_000 */
  heartbeat?: number;
  /** Milliseconds `connect()` keeps trying before it rejects with `ConnectionError`. @default 10_000 */
  connectTimeout?: number;
  /** Reconnect backoff. */
  reconnect?: ReconnectOptions;
  /** Channel pool (declarations and other short operations). */
  channels?: { /** Most channels at once. @default 8 */ max?: number };
  /** Milliseconds a publish waits for its confirm (including time spent disconnected). @default 30_000 */
  publishTimeout?: number;
  /** Most publishes unsettled at once (queued while disconnected + awaiting confirms). @default 10_000 */
  maxPending?: number;
  /** What a nacked publish does (see {@link NackRetryOptions}). */
  nackRetry?: NackRetryOptions;
  /** Topology declared at connect and re-declared after every reconnect. */
  topology?: Topology;
  /** Connection name shown by the management UI and `rabbitmqctl list_connections`. @default 'connkit' */
  clientName?: string;
  /** Where to report background problems. @default undefined (silent, except via 'error' listeners) */
  logger?: BrokerLogger;
  /**
   * TLS options for `amqps://` URLs, handed to `tls.connect` as they are (`ca`, `cert`, `key`,
   * `servername`, `rejectUnauthorized` …); unused for `amqp://`. @default undefined (Node's defaults)
   */
  tls?: ConnectionOptions | undefined;
}

/**
 * {@link BrokerOptions} with defaults applied.
 *
 * @example
 * ```ts
 * resolveBrokerOptions({ url }).publishTimeout; // 30000
 * ```
 */
export interface ResolvedBrokerOptions {
  urls: string[];
  heartbeat: number;
  connectTimeout: number;
  reconnect: Required<ReconnectOptions>;
  channelMax: number;
  publishTimeout: number;
  maxPending: number;
  nackRetry: Required<NackRetryOptions>;
  topology: Topology | undefined;
  clientName: string;
  logger: BrokerLogger | undefined;
  tls: ConnectionOptions | undefined;
}

/**
 * Replaces the password of a URL with `***`; never throws.
 *
 * @example
 * ```ts
 * redactUrl('amqp://guest:secret@host'); // 'amqp://guest:***@host'
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
  }
}

function checkTls(tls: unknown): ConnectionOptions | undefined {
  if (tls === undefined) return undefined;
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls)) {
    throw new TypeError(`tls must be an object of TLS options, got ${describeValue(tls)}`);
  }
  return tls;
}

function checkUrl(url: unknown): string {
  if (typeof url !== 'string') throw new TypeError(`url must be a string, got ${describeValue(url)}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`url is not a valid URL: ${JSON.stringify(redactUrl(url))}`);
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new TypeError(`url must start with amqp:// or amqps://, got ${JSON.stringify(redactUrl(url))}`);
  }
  if (!parsed.hostname) throw new TypeError(`url has no host: ${JSON.stringify(redactUrl(url))}`);
  return url;
}

/**
 * Applies defaults and validates; throws `TypeError`/`RangeError` quoting the bad value.
 *
 * @example
 * ```ts
 * resolveBrokerOptions({ url: 'amqp://localhost', heartbeat: -1 }); // RangeError: heartbeat must be ≥ 0 …
 * ```
 */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  }
  const urls: string[] = [];
  if (options.url !== undefined) urls.push(checkUrl(options.url));
  if (options.urls !== undefined) {
    if (!Array.isArray(options.urls))
      throw new TypeError(`urls must be an array, got ${describeValue(options.urls)}`);
    for (const url of options.urls) urls.push(checkUrl(url));
  }
  if (urls.length === 0) throw new TypeError('Broker needs `url` or a non-empty `urls`');
  const reconnect = options.reconnect ?? {};
  const factor = reconnect.factor ?? 2;
  if (typeof factor !== 'number' || !(factor >= 1) || !Number.isFinite(factor)) {
    throw new RangeError(`reconnect.factor must be a finite number ≥ 1, got ${describeValue(factor)}`);
  }
  if (
    options.nackRetry !== undefined &&
    (options.nackRetry === null || typeof options.nackRetry !== 'object')
  ) {
    throw new TypeError(`nackRetry must be { attempts?, delay? }, got ${describeValue(options.nackRetry)}`);
  }
  const clientName = options.clientName ?? 'connkit';
  if (typeof clientName !== 'string') {
    throw new TypeError(`clientName must be a string, got ${describeValue(clientName)}`);
  }
  return {
    urls,
    heartbeat: checkDuration(options.heartbeat, 'heartbeat', 10_000),
    connectTimeout: checkDuration(options.connectTimeout, 'connectTimeout', 10_000),
    reconnect: {
      initialDelay: checkDuration(reconnect.initialDelay, 'reconnect.initialDelay', 200),
      maxDelay: checkDuration(reconnect.maxDelay, 'reconnect.maxDelay', 30_000),
      factor,
    },
    channelMax: checkInteger(options.channels?.max, 'channels.max', 8, 1),
    publishTimeout: checkDuration(options.publishTimeout, 'publishTimeout', 30_000),
    maxPending: checkInteger(options.maxPending, 'maxPending', 10_000, 1, Infinity),
    nackRetry: {
      attempts: checkInteger(options.nackRetry?.attempts, 'nackRetry.attempts', 3, 0, 100),
      delay: checkDuration(options.nackRetry?.delay, 'nackRetry.delay', 250),
    },
    topology: options.topology,
    clientName,
    logger: options.logger,
    tls: checkTls(options.tls),
  };
}

/**
 * LISTEN on a dedicated connection that survives connection loss: {@link listen} and
 * {@link Subscription}.
 * @module
 */
import type pg from 'pg';
import {
  type AbortWatcher,
  backoffDelay,
  type BackoffOptions,
  checkDuration,
  checkInteger,
  checkSignal,
  logDebug,
  logInfo,
  type Logger,
  sleep,
  startTimer,
  unwatchAbort,
  watchAbort,
} from '../../src/internal/index.js';
import { endClient, socketOf } from './client-lease.js';
import { toDatabaseError } from './errors.js';
import { checkChannel } from './notify.js';
import type { ListenConnect, ListenOptions, Notification } from './listen-options.js';
import { sql } from './sql.js';

export type { ListenConnect, ListenOptions, Notification } from './listen-options.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

type Pending = { resolve(r: IteratorResult<Notification, undefined>): void; reject(err: unknown): void };

/**
 * A live LISTEN on one channel, as an async iterable of {@link Notification}s. It owns a dedicated
 * connection; when that connection is lost it reconnects with backoff and re-issues LISTEN. Meant
 * for one consumer: concurrent iterators share (split) the stream. Leaving a `for await` loop closes
 * the subscription. `close()` is idempotent and also `[Symbol.asyncDispose]`.
 *
 * @example
 * ```ts
 * await using sub = await db.listen('orders');
 * for await (const { payload } of sub) console.log('order', payload);
 * ```
 */
export class Subscription implements AsyncIterable<Notification>, AsyncDisposable {
  readonly channel: string;
  readonly #connect: ListenConnect;
  readonly #opts: ListenOptions;
  readonly #maxBuffered: number;
  readonly #heartbeat: number;
  readonly #logger: Logger | undefined;
  #stopHeartbeat: (() => void) | undefined;
  readonly #controller = new AbortController();
  readonly #buffer: Notification[] = [];
  readonly #pending: Pending[] = [];
  #client: pg.Client | undefined;
  #paused = false;
  #failure: { reason: unknown } | undefined;
  #closing: Promise<void> | undefined;
  #reconnects = 0;
  /** Watches the caller's signal through the kit's shared listener (one per signal, however many subscriptions). */
  readonly #watcher: AbortWatcher = {
    giveUp: (reason) => {
      this.#failure ??= { reason };
      void this.close();
    },
  };

  /** @internal Use {@link listen} or `db.listen()`. */
  constructor(
    connect: ListenConnect,
    channel: string,
    opts: ListenOptions,
    limits: { maxBuffered: number; heartbeat: number; logger?: Logger | undefined },
  ) {
    this.#connect = connect;
    this.channel = channel;
    this.#opts = opts;
    this.#maxBuffered = limits.maxBuffered;
    this.#heartbeat = limits.heartbeat;
    this.#logger = limits.logger;
  }

  /** How many times the connection was re-established. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** True once closed (by `close()`, abort or leaving the loop). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** @internal First connect: failures reject `listen()` instead of being retried. */
  async start(): Promise<this> {
    const signal = this.#opts.signal;
    if (signal !== undefined) watchAbort(signal, this.#watcher);
    try {
      await this.#open();
      return this;
    } catch (err) {
      await this.close();
      throw signal?.aborted ? signal.reason : toDatabaseError(err);
    }
  }

  /** Next notification; waits for one. Resolves done once closed; rejects with the abort reason. */
  next(): Promise<IteratorResult<Notification, undefined>> {
    if (this.#failure) return Promise.reject(this.#failure.reason);
    const item = this.#buffer.shift();
    if (item !== undefined) {
      if (this.#paused && this.#buffer.length <= this.#maxBuffered / 2) this.#setPaused(false);
      return Promise.resolve({ done: false, value: item });
    }
    if (this.#closing) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<Notification, undefined> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return DONE;
      },
    };
  }

  /** Stops listening and ends the connection. Idempotent; buffered notifications are dropped. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    if (this.#opts.signal !== undefined) unwatchAbort(this.#opts.signal, this.#watcher);
    this.#controller.abort(new Error('Subscription closed'));
    this.#buffer.length = 0;
    for (const p of this.#pending.splice(0)) {
      if (this.#failure) p.reject(this.#failure.reason);
      else p.resolve(DONE);
    }
    this.#stopHeartbeat?.();
    const client = this.#client;
    this.#client = undefined;
    if (client) await endClient(client);
  }

  /** Connects, subscribes, and installs the handlers that feed the buffer and detect loss. */
  async #open(): Promise<void> {
    const client = await this.#connect(this.#controller.signal);
    if (this.#closing) {
      await endClient(client);
      return;
    }
    let lost = false;
    const onLost = (err: unknown): void => {
      if (lost) return;
      lost = true;
      this.#lost(client, err);
    };
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('LISTEN connection ended')));
    client.on('notification', (msg: pg.Notification) => this.#deliver(msg));
    try {
      await client.query(`LISTEN ${sql.id([this.channel]).text}`);
    } catch (err) {
      lost = true;
      await endClient(client);
      throw err;
    }
    if (lost || this.#closing) {
      if (!this.#closing) throw new Error('LISTEN connection lost while subscribing');
      await endClient(client);
      return;
    }
    this.#client = client;
    this.#startHeartbeat(client);
  }

  /**
   * Pings the connection `heartbeat` ms after the last ping was answered; a ping unanswered for as
   * long destroys the socket (→ reconnect). Timers that take any duration, re-armed after each beat.
   */
  #startHeartbeat(client: pg.Client): void {
    this.#stopHeartbeat?.();
    if (this.#heartbeat === 0) return;
    const ms = this.#heartbeat;
    const next = (): void => {
      if (this.#client === client) this.#stopHeartbeat = startTimer(ms, beat, true);
    };
    const beat = (): void => {
      if (this.#client !== client) return;
      if (this.#paused) return next();
      this.#stopHeartbeat = startTimer(
        ms,
        () => {
          if (this.#client === client) {
            socketOf(client)?.destroy(
              new Error(`LISTEN connection did not answer a heartbeat within ${ms} ms`),
            );
          }
        },
        true,
      );
      client.query('select 1').then(
        next,
        () => undefined, // a failure is reported through the client's 'error'/'end' events
      );
    };
    next();
  }

  #deliver(msg: pg.Notification): void {
    if (msg.channel !== this.channel || this.#closing) return;
    const item: Notification = { channel: msg.channel, payload: msg.payload ?? '', processId: msg.processId };
    const waiter = this.#pending.shift();
    if (waiter) return waiter.resolve({ done: false, value: item });
    this.#buffer.push(item);
    if (!this.#paused && this.#buffer.length >= this.#maxBuffered) this.#setPaused(true);
  }

  #setPaused(paused: boolean): void {
    this.#paused = paused;
    const stream = this.#client && socketOf(this.#client);
    if (paused) stream?.pause();
    else stream?.resume();
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client) return; // still subscribing: #open reports it
    this.#client = undefined;
    this.#paused = false;
    this.#stopHeartbeat?.();
    void endClient(client);
    if (this.#closing) return;
    logDebug(this.#logger, 'connkit/postgres: LISTEN connection lost; reconnecting', {
      channel: this.channel,
      err,
    });
    this.#opts.onError?.(err);
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    const backoff: BackoffOptions = {
      initialDelay: 100,
      maxDelay: 10_000,
      jitter: 'equal',
      ...this.#opts.reconnect,
    };
    for (let attempt = 1; !this.#closing; attempt++) {
      try {
        await sleep(backoffDelay(attempt, backoff), { signal: this.#controller.signal });
        await this.#open();
        if (this.#closing) return;
        this.#reconnects++;
        logInfo(this.#logger, 'connkit/postgres: LISTEN reconnected', {
          channel: this.channel,
          attempts: attempt,
        });
        this.#opts.onReconnect?.();
        return;
      } catch (err) {
        if (this.#closing) return;
        this.#opts.onError?.(err);
      }
    }
  }
}

/**
 * Subscribes to `channel` on a dedicated connection opened with `connect` (not a pooled one: the
 * session's LISTEN state must not leak into a pool). The channel is sent as a quoted identifier, so
 * it is case-sensitive and cannot inject SQL; it must be 1–63 bytes without NUL. The first connect
 * is not retried: its failure rejects (`DatabaseError`/`ConnectionError`, or `signal.reason`).
 * Bad arguments throw synchronously.
 *
 * @example
 * ```ts
 * const sub = await listen((signal) => openClient(signal), 'jobs', { onReconnect: () => pollJobs() });
 * for await (const n of sub) handle(n.payload);
 * ```
 */
export function listen(
  connect: ListenConnect,
  channel: string,
  opts: ListenOptions = {},
  logger?: Logger,
): Promise<Subscription> {
  if (typeof connect !== 'function') throw new TypeError('listen() needs a connect function');
  checkChannel(channel);
  const signal = checkSignal(opts.signal);
  const maxBuffered = checkInteger(opts.maxBuffered, 'maxBuffered', 1000, 1);
  const heartbeat = checkDuration(opts.heartbeat, 'heartbeat', 30_000);
  if (heartbeat === Infinity) throw new RangeError('heartbeat must be finite (0 disables it), got Infinity');
  if (opts.reconnect !== undefined) backoffDelay(1, opts.reconnect); // validates now, not at the first loss
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Subscription(connect, channel, opts, { maxBuffered, heartbeat, logger }).start();
}

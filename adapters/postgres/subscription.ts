/**
 * {@link Subscription}: a LISTEN on a dedicated connection that survives connection loss.
 * @module
 */
import type pg from 'pg';
import {
  type AbortWatcher,
  Backoff,
  type BackoffOptions,
  logDebug,
  logInfo,
  type Logger,
  startTimer,
  unwatchAbort,
  watchAbort,
} from '../../src/internal/index.js';
import type { PgConnection } from './connection.js';
import { toDatabaseError } from './errors.js';
import type { ListenConnect, ListenOptions, Notification } from './listen-options.js';
import { sql } from './sql.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const PING = { text: 'select 1', values: undefined };

type Pending = { resolve(r: IteratorResult<Notification, undefined>): void; reject(err: unknown): void };

/**
 * The first connect of a subscription (its failure rejects `listen()`): a method only `listen()`
 * can call, since this symbol is not exported from the package.
 *
 * @example
 * ```ts
 * return new Subscription(connect, channel, opts, limits)[start]();
 * ```
 */
export const start: unique symbol = Symbol('Subscription.start');

/**
 * What a {@link Subscription} is made with besides its options (validated by `listen()`).
 *
 * @example
 * ```ts
 * const limits: SubscriptionLimits = { maxBuffered: 1000, heartbeat: 30_000, logger };
 * ```
 */
export interface SubscriptionLimits {
  maxBuffered: number;
  /** Milliseconds between liveness checks; 0 disables them. */
  heartbeat: number;
  logger?: Logger | undefined;
}

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
  readonly #limits: SubscriptionLimits;
  readonly #controller = new AbortController();
  readonly #buffer: Notification[] = [];
  readonly #pending: Pending[] = [];
  #conn: PgConnection | undefined;
  #stopHeartbeat: (() => void) | undefined;
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

  /** Made by `db.listen()`. */
  constructor(connect: ListenConnect, channel: string, opts: ListenOptions, limits: SubscriptionLimits) {
    this.#connect = connect;
    this.channel = channel;
    this.#opts = opts;
    this.#limits = limits;
  }

  /** How many times the connection was re-established. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** True once closed (by `close()`, abort or leaving the loop). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Next notification; waits for one. Resolves done once closed; rejects with the abort reason. */
  next(): Promise<IteratorResult<Notification, undefined>> {
    if (this.#failure) return Promise.reject(this.#failure.reason);
    const item = this.#buffer.shift();
    if (item !== undefined) {
      if (this.#paused && this.#buffer.length <= this.#limits.maxBuffered / 2) this.#setPaused(false);
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

  /** First connect: failures reject `listen()` instead of being retried. */
  async [start](): Promise<this> {
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

  async #shutdown(): Promise<void> {
    if (this.#opts.signal !== undefined) unwatchAbort(this.#opts.signal, this.#watcher);
    this.#controller.abort(new Error('Subscription closed'));
    this.#buffer.length = 0;
    for (const p of this.#pending.splice(0)) {
      if (this.#failure) p.reject(this.#failure.reason);
      else p.resolve(DONE);
    }
    this.#stopHeartbeat?.();
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close();
  }

  /** Connects, subscribes, and installs the handlers that feed the buffer and detect loss. */
  async #open(): Promise<void> {
    const conn = await this.#connect(this.#controller.signal);
    if (this.#closing) return conn.close();
    conn.client.on('notification', (msg: pg.Notification) => this.#deliver(msg));
    void conn.lost.then((err) => this.#lost(conn, err));
    try {
      await conn.run({ text: `LISTEN ${sql.id([this.channel]).text}`, values: undefined });
    } catch (err) {
      await conn.close();
      throw err;
    }
    if (this.#closing) return conn.close();
    if (conn.broken !== undefined) {
      await conn.close();
      throw new Error('LISTEN connection lost while subscribing', { cause: conn.broken });
    }
    this.#conn = conn;
    this.#startHeartbeat(conn);
  }

  /**
   * Pings the connection `heartbeat` ms after the last ping was answered; a ping unanswered for as
   * long breaks the connection (→ reconnect). Timers that take any duration, re-armed each beat.
   */
  #startHeartbeat(conn: PgConnection): void {
    this.#stopHeartbeat?.();
    const ms = this.#limits.heartbeat;
    if (ms === 0) return;
    const next = (): void => {
      if (this.#conn === conn) this.#stopHeartbeat = startTimer(ms, beat, true);
    };
    const beat = (): void => {
      if (this.#conn !== conn) return;
      if (this.#paused) return next();
      const stopDeadline = startTimer(
        ms,
        () => conn.destroy(new Error(`LISTEN connection did not answer a heartbeat within ${ms} ms`)),
        true,
      );
      this.#stopHeartbeat = stopDeadline;
      conn.run(PING).then(
        () => {
          stopDeadline();
          next();
        },
        stopDeadline, // the failure broke the connection, which `conn.lost` reports
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
    if (!this.#paused && this.#buffer.length >= this.#limits.maxBuffered) this.#setPaused(true);
  }

  #setPaused(paused: boolean): void {
    this.#paused = paused;
    if (paused) this.#conn?.pause();
    else this.#conn?.resume();
  }

  #lost(conn: PgConnection, err: Error): void {
    if (this.#conn !== conn) return; // still subscribing (#open reports it) or closed
    this.#conn = undefined;
    this.#paused = false;
    this.#stopHeartbeat?.();
    void conn.close();
    if (this.#closing) return;
    logDebug(this.#limits.logger, 'connkit/postgres: LISTEN connection lost; reconnecting', {
      channel: this.channel,
      err,
    });
    this.#opts.onError?.(err);
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    const options: BackoffOptions = {
      initialDelay: 100,
      maxDelay: 10_000,
      jitter: 'equal',
      ...this.#opts.reconnect,
    };
    const backoff = new Backoff(options);
    while (!this.#closing) {
      try {
        await backoff.wait(this.#controller.signal);
        await this.#open();
        if (this.#closing) return;
        this.#reconnects++;
        logInfo(this.#limits.logger, 'connkit/postgres: LISTEN reconnected', {
          channel: this.channel,
          attempts: backoff.failures,
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

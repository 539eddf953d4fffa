/**
 * The broker connection: connects to the first answering URL, reconnects with exponential backoff
 * and jitter, and runs the broker's setup (topology, channels, consumers) on every new connection
 * before calling it ready. Passwords never appear in its messages.
 * @module
 */
import amqp, { type ChannelModel } from 'amqplib';
import {
  backoffDelay,
  ConnectionError,
  describeValue,
  readWaitOptions,
  type SignalOptions,
  TimeoutError,
  Waiter,
  type WaiterHost,
  WaiterQueue,
  type WaitOptions,
} from '../../src/internal/index.js';
import { redactUrl, type ResolvedBrokerOptions } from './options.js';

/**
 * What the broker does at each step of the connection's life.
 *
 * @example
 * ```ts
 * const hooks: ConnectionHooks = { setup: async (model) => void (await model.createChannel()), connected() {},
 *   disconnected() {}, blocked() {}, unblocked() {}, error: console.error, gaveUp() {} };
 * ```
 */
export interface ConnectionHooks {
  /** Runs on every new connection before it counts as ready; a throw drops the connection and retries. */
  setup(model: ChannelModel): Promise<void>;
  connected(url: string): void;
  disconnected(error: Error | undefined): void;
  blocked(reason: string): void;
  unblocked(): void;
  error(error: Error): void;
  /** `connect()` gave up before any connection was made: pending work should fail with `error`. */
  gaveUp(error: ConnectionError): void;
}

const noop = (): void => undefined;

/** Access refused (bad credentials or vhost): retrying cannot help before the first success. */
function isFatal(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /ACCESS[_-]REFUSED|NOT_ALLOWED|403|530/.test(message);
}

/**
 * One logical connection that survives the loss of its sockets.
 *
 * @example
 * ```ts
 * const conn = new Connection(resolveBrokerOptions({ url }), hooks);
 * await conn.connect({ signal });
 * conn.model?.createChannel();
 * ```
 */
export class Connection implements WaiterHost<ChannelModel> {
  readonly #opts: ResolvedBrokerOptions;
  readonly #hooks: ConnectionHooks;
  readonly #urls: string[];
  readonly #passwords: string[];
  #model: ChannelModel | undefined = undefined;
  #ready = false;
  #running = false;
  #closed = false;
  #everConnected = false;
  #urlIndex = 0;
  #lastError: unknown = undefined;
  #waiters = new WaiterQueue<ChannelModel>();
  #sleep: { timer: NodeJS.Timeout; wake: () => void } | undefined = undefined;
  #loop: Promise<void> | undefined = undefined;
  #reconnects = 0;
  #currentUrl: string | undefined = undefined;

  constructor(opts: ResolvedBrokerOptions, hooks: ConnectionHooks) {
    this.#opts = opts;
    this.#hooks = hooks;
    this.#passwords = [];
    this.#urls = opts.urls.map((url) => {
      const parsed = new URL(url);
      if (parsed.password) this.#passwords.push(decodeURIComponent(parsed.password), parsed.password);
      if (!parsed.searchParams.has('heartbeat')) {
        parsed.searchParams.set('heartbeat', String(Math.round(opts.heartbeat / 1000)));
      }
      return parsed.toString();
    });
  }

  /** The live connection, once set up; `undefined` while (re)connecting. */
  get model(): ChannelModel | undefined {
    return this.#ready ? this.#model : undefined;
  }

  /** True when connected and set up. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Number of successful reconnects after the first connection. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Redacted URL of the live connection. */
  get url(): string | undefined {
    return this.#currentUrl;
  }

  timeoutMessage(ms: number): string {
    return `Waiting for the broker connection timed out after ${ms} ms (${this.#describeLastError()})`;
  }

  /** Starts connecting in the background if not already doing so. */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /**
   * Resolves with the live connection, starting the connection if needed. Rejects with
   * `TimeoutError` after `timeout`, or with the reason of `signal`.
   */
  async whenReady(opts?: WaitOptions): Promise<ChannelModel> {
    const { signal, timeout } = readWaitOptions(opts, Infinity);
    if (this.#closed) throw new ConnectionError('Connection is closed');
    const model = this.model;
    if (model) return model;
    this.start();
    const waiter = new Waiter<ChannelModel>(this, signal, timeout);
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /**
   * Connects (once) within `connectTimeout`. Rejects with `ConnectionError` (the last failure as
   * `cause`) when no URL answered in time or the credentials were refused.
   */
  async connect(opts?: SignalOptions): Promise<void> {
    try {
      await this.whenReady({ signal: opts?.signal, timeout: this.#opts.connectTimeout });
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      const error = this.#giveUpError();
      if (!this.#everConnected) this.#stop(error);
      throw error;
    }
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#running = false;
    this.#wakeSleep();
    this.#waiters.failAll(new ConnectionError('Connection is closed'));
    const model = this.#model;
    if (model) await model.close().catch(noop);
    await this.#loop;
  }

  #giveUpError(): ConnectionError {
    const urls = this.#opts.urls.map(redactUrl).join(', ');
    return new ConnectionError(
      `Could not connect to ${urls} within ${this.#opts.connectTimeout} ms (${this.#describeLastError()})`,
      { cause: this.#scrub(this.#lastError) },
    );
  }

  #describeLastError(): string {
    const err = this.#lastError;
    if (err === undefined) return this.#running ? 'still connecting' : 'not connected';
    return `last error: ${this.#redact(err instanceof Error ? err.message : describeValue(err))}`;
  }

  #redact(text: string): string {
    let out = text;
    for (const p of this.#passwords) if (p) out = out.split(p).join('***');
    return out;
  }

  /** A driver error whose message might quote the password gets the password masked. */
  #scrub(err: unknown): unknown {
    if (err instanceof Error) {
      const masked = this.#redact(err.message);
      if (masked !== err.message) err.message = masked;
    }
    return err;
  }

  #stop(error: ConnectionError): void {
    this.#running = false;
    this.#wakeSleep();
    this.#waiters.failAll(error);
    this.#hooks.gaveUp(error);
  }

  #wakeSleep(): void {
    const s = this.#sleep;
    if (s) {
      clearTimeout(s.timer);
      this.#sleep = undefined;
      s.wake();
    }
  }

  async #pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#sleep = { timer: setTimeout(() => ((this.#sleep = undefined), resolve()), ms), wake: resolve };
    });
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running && !this.#closed) {
      const model = await this.#tryUrls();
      if (model && this.#running) {
        attempt = 0;
        const closed = this.#watch(model);
        try {
          await this.#hooks.setup(model);
        } catch (err) {
          this.#lastError = err;
          this.#hooks.error(err instanceof Error ? err : new Error(String(err)));
          await model.close().catch(noop);
        }
        if (!closed.done) {
          if (this.#everConnected) this.#reconnects++;
          this.#everConnected = true;
          this.#ready = true;
          this.#lastError = undefined;
          this.#waiters.wakeAll(model);
          this.#hooks.connected(this.#currentUrl ?? '');
        }
        const error = await closed.promise;
        const wasReady = this.#ready;
        this.#ready = false;
        this.#model = undefined;
        if (error) this.#lastError = error;
        if (wasReady) this.#hooks.disconnected(error);
      } else if (model) {
        await model.close().catch(noop);
      }
      if (!this.#running || this.#closed) break;
      if (!this.#everConnected && isFatal(this.#lastError)) {
        const error = new ConnectionError(
          `Connection to ${this.#opts.urls.map(redactUrl).join(', ')} refused: ${this.#describeLastError()}`,
          { cause: this.#scrub(this.#lastError) },
        );
        this.#stop(error);
        break;
      }
      attempt++;
      // 'equal' jitter keeps a floor under the delay, so a flapping broker is not hammered.
      await this.#pause(backoffDelay(attempt, { ...this.#opts.reconnect, jitter: 'equal' }));
    }
  }

  /** Attaches listeners from birth so no error event of the driver goes unheard. */
  #watch(model: ChannelModel): { promise: Promise<Error | undefined>; done: boolean } {
    this.#model = model;
    const state: { promise: Promise<Error | undefined>; done: boolean } = {
      promise: Promise.resolve(undefined),
      done: false,
    };
    state.promise = new Promise<Error | undefined>((resolve) => {
      model.on('close', (err?: Error) => {
        state.done = true;
        resolve(err);
      });
    });
    model.on('error', (err: Error) => {
      this.#lastError = err;
      this.#hooks.error(this.#scrub(err) as Error);
    });
    model.on('blocked', (reason: string) => this.#hooks.blocked(reason));
    model.on('unblocked', () => this.#hooks.unblocked());
    return state;
  }

  /** One pass over the URLs, starting with the last one that worked. */
  async #tryUrls(): Promise<ChannelModel | undefined> {
    const n = this.#urls.length;
    for (let i = 0; i < n && this.#running; i++) {
      const index = (this.#urlIndex + i) % n;
      const url = this.#urls[index] as string;
      try {
        // Nagle stays on (amqplib's default): a publish is one write, and measured on 2 cores
        // noDelay cost ~2x the socket-write CPU and some throughput under confirm streams.
        const model = await amqp.connect(url, {
          ...(url.startsWith('amqps:') ? this.#opts.tls : undefined),
          timeout: this.#opts.connectTimeout,
          clientProperties: { connection_name: this.#opts.clientName },
        });
        this.#urlIndex = index;
        this.#currentUrl = redactUrl(this.#opts.urls[index] as string);
        return model;
      } catch (err) {
        this.#lastError = err;
        if (!this.#everConnected && isFatal(err)) return undefined;
      }
    }
    return undefined;
  }
}

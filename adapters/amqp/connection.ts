/**
 * The broker connection: connects to the first answering URL, reconnects with the kit's
 * {@link Backoff} (exponential, equal jitter), and runs the broker's setup (topology, channels,
 * consumers) on every new connection before calling it ready. Passwords never appear in its
 * messages or logs.
 *
 * Cluster failover: when a connection ends, the next pass over `urls` starts with the URL after
 * the one that was lost (the dead node last, not first: {@link UrlRing}), and the first try is at
 * once — it goes to another node. A node that goes silent is caught after one heartbeat interval
 * ({@link watchConnection}); a node that accepts the connection but cannot finish the setup within
 * `connectTimeout` (a quorum queue without a leader) is hung up on, and the next one tried.
 * @module
 */
import type { ChannelModel } from 'amqplib';
import {
  Backoff,
  ConnectionError,
  Deadline,
  logDebug,
  logInfo,
  Scope,
  sleep,
  type SignalOptions,
  TimeoutError,
  type WaiterHost,
  WaiterQueue,
  type WaitOptions,
} from '../../src/internal/index.js';
import { Credentials } from './credentials.js';
import { watchConnection } from './connection-watch.js';
import { hangUp, isFatal } from './dial.js';
import type { ResolvedBrokerOptions } from './options.js';
import { UrlRing } from './url-ring.js';

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
  /** A failure in the background (`message` says what failed). */
  error(message: string, error: unknown): void;
  /** `connect()` gave up before any connection was made: pending work should fail with `error`. */
  gaveUp(error: ConnectionError): void;
}

const noop = (): void => undefined;

/** How long a connection whose setup failed gets to close politely before its socket is dropped. */
const SETUP_HANGUP_MS = 1000;

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
  readonly #credentials: Credentials;
  readonly #ring: UrlRing;
  readonly #backoff: Backoff;
  #model: ChannelModel | undefined = undefined;
  #ready = false;
  #running = false;
  #closed = false;
  #everConnected = false;
  #lastError: unknown = undefined;
  #waiters = new WaiterQueue<ChannelModel>();
  /** Aborts the reconnect pause of the running loop (close, give up). */
  #stopping: AbortController | undefined = undefined;
  #loop: Promise<void> | undefined = undefined;
  #reconnects = 0;

  constructor(opts: ResolvedBrokerOptions, hooks: ConnectionHooks) {
    this.#opts = opts;
    this.#hooks = hooks;
    this.#credentials = new Credentials(opts.urls, opts.heartbeat);
    this.#ring = new UrlRing(this.#credentials, opts);
    // 'equal' jitter keeps a floor under the delay, so a flapping broker is not hammered.
    this.#backoff = new Backoff({ ...opts.reconnect, jitter: 'equal' });
  }

  /** The live connection, once set up; `undefined` while (re)connecting. */
  get model(): ChannelModel | undefined {
    return this.#ready ? this.#model : undefined;
  }

  /** True when connected and set up. */
  get ready(): boolean {
    return this.#ready;
  }

  /** True while trying to (re)connect. */
  get connecting(): boolean {
    return this.#running && !this.#ready;
  }

  /** Number of successful reconnects after the first connection. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Redacted URL of the live connection. */
  get url(): string | undefined {
    return this.#ring.current;
  }

  timeoutMessage(ms: number): string {
    return `Waiting for the broker connection timed out after ${ms} ms (${this.#describeLastError()})`;
  }

  /** Starts connecting in the background if not already doing so. */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#stopping = new AbortController();
    this.#loop = this.#run(this.#stopping.signal);
  }

  /**
   * Resolves with the live connection, starting the connection if needed. Rejects with
   * `TimeoutError` after `timeout` (0: at once unless connected), or with the reason of `signal`
   * (both already validated by the caller).
   */
  async whenReady(opts: WaitOptions = {}): Promise<ChannelModel> {
    if (this.#closed) throw new ConnectionError('Connection is closed');
    const model = this.model;
    if (model) return model;
    opts.signal?.throwIfAborted();
    this.start();
    return this.#waiters.wait(this, opts.signal, opts.timeout ?? Infinity);
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
      const error = new ConnectionError(
        `Could not connect to ${this.#credentials.all} within ${this.#opts.connectTimeout} ms (${this.#describeLastError()})`,
        { cause: this.#credentials.scrub(this.#lastError) },
      );
      if (!this.#everConnected) this.#stop(error);
      throw error;
    }
  }

  /**
   * Closes the connection and stops reconnecting. Idempotent. A broker that does not answer the
   * close within `timeout` ms (a dead peer) gets its socket destroyed instead.
   */
  async close(timeout = Infinity): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#running = false;
    this.#stopping?.abort();
    this.#waiters.failAll(new ConnectionError('Connection is closed'));
    const model = this.#model;
    if (model) await hangUp(model, timeout);
    await this.#loop;
  }

  #describeLastError(): string {
    const err = this.#lastError;
    if (err === undefined) return this.#running ? 'still connecting' : 'not connected';
    return `last error: ${this.#credentials.describe(err)}`;
  }

  #stop(error: ConnectionError): void {
    this.#running = false;
    this.#stopping?.abort();
    this.#waiters.failAll(error);
    this.#hooks.gaveUp(error);
  }

  async #run(stopping: AbortSignal): Promise<void> {
    while (this.#running && !this.#closed) {
      const model = await this.#ring.pass(
        () => this.#running,
        (err) => {
          this.#lastError = err;
          return !this.#everConnected && isFatal(err);
        },
      );
      let lost = false;
      if (model && this.#running) {
        lost = await this.#serve(model);
      } else if (model) {
        await model.close().catch(noop);
      }
      if (!this.#running || this.#closed) break;
      if (!this.#everConnected && isFatal(this.#lastError)) {
        this.#stop(
          new ConnectionError(
            `Connection to ${this.#credentials.all} refused: ${this.#describeLastError()}`,
            {
              cause: this.#credentials.scrub(this.#lastError),
            },
          ),
        );
        break;
      }
      // A working connection was lost: the next node is tried at once (the pass starts there);
      // passes that find no node back off.
      if (lost && this.#ring.size > 1) continue;
      const delay = this.#backoff.next();
      logDebug(this.#opts.logger, 'connkit/amqp: next connection attempt', {
        delayMs: Math.round(delay),
        failures: this.#backoff.failures,
        lastError: this.#describeLastError(),
      });
      await sleep(delay, { signal: stopping }).catch(noop);
    }
  }

  /**
   * Sets a fresh connection up (within `connectTimeout`), serves it until it closes. Resolves true
   * when it had been ready. Either way the next pass over the URLs starts after this one.
   */
  async #serve(model: ChannelModel): Promise<boolean> {
    this.#model = model;
    const closed = watchConnection(model, {
      error: (err) => {
        this.#lastError = err;
        this.#hooks.error('connkit/amqp: connection error', this.#credentials.scrub(err));
      },
      blocked: (reason) => this.#hooks.blocked(reason),
      unblocked: () => this.#hooks.unblocked(),
    });
    const url = this.#ring.current ?? '';
    this.#ring.moveOn();
    try {
      await this.#setUp(model, url);
    } catch (err) {
      this.#lastError = err;
      this.#hooks.error('connkit/amqp: setting up the new connection failed', err);
      await hangUp(model, SETUP_HANGUP_MS);
    }
    if (!closed.done) {
      if (this.#everConnected) this.#reconnects++;
      const again = this.#everConnected;
      this.#everConnected = true;
      this.#ready = true;
      this.#lastError = undefined;
      this.#backoff.reset();
      this.#waiters.wakeAll(model);
      if (again)
        logInfo(this.#opts.logger, 'connkit/amqp: reconnected', { url, reconnects: this.#reconnects });
      else logInfo(this.#opts.logger, 'connkit/amqp: connected', { url });
      this.#hooks.connected(url);
    }
    const error = await closed.closed;
    const wasReady = this.#ready;
    this.#ready = false;
    this.#model = undefined;
    if (error) this.#lastError = error;
    if (wasReady) {
      if (!this.#closed) {
        logInfo(this.#opts.logger, 'connkit/amqp: connection lost, reconnecting', {
          url,
          reason: error === undefined ? 'closed' : this.#credentials.describe(error),
        });
      }
      this.#hooks.disconnected(error);
    }
    return wasReady;
  }

  /** The broker's setup, bounded by `connectTimeout`: a node that cannot finish it is left for the next. */
  async #setUp(model: ChannelModel, url: string): Promise<void> {
    const scope = new Scope({
      deadline: Deadline.after(this.#opts.connectTimeout),
      timeoutMessage: (ms) => `Setting up the connection to ${url} timed out after ${ms} ms`,
    });
    try {
      await scope.race(this.#hooks.setup(model));
    } finally {
      scope.dispose();
    }
  }
}

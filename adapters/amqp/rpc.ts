/**
 * RPC client over RabbitMQ's direct reply-to: one reply consumer per connection, many calls in
 * flight on it, replies matched by correlation id (unknown ids are ignored).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Message as AmqpMessage, Options } from 'amqplib';
import {
  activeContext,
  checkSignal,
  checkDuration,
  ConnectionError,
  Deadline,
  describeValue,
  logDebug,
  type Logger,
  Scope,
  TimeoutError,
  type TraceContext,
  tracingEnabled,
  type WaitOptions,
  withContext,
} from '../../src/internal/index.js';
import { encodeBody } from './codec.js';
import { BrokerClosedError, UnroutableError } from './errors.js';
import { checkHeaders } from './publish-options.js';
import { readReply } from './rpc-reply.js';
import { traceHeaders } from './trace-headers.js';
import { DIRECT_REPLY_TO, MAX_TTL, wireTimestamp } from './wire.js';

/**
 * Options of `broker.call()`.
 *
 * @example
 * ```ts
 * const sum = await broker.call<number>('math.add', { a: 1, b: 2 }, { timeout: 2000 });
 * ```
 */
export interface CallOptions extends WaitOptions {
  /** Request headers (AMQP types are kept). */
  headers?: Record<string, unknown>;
}

/** One call in flight: settled once, by its reply, its scope (abort, timeout) or a lost channel. */
class Call {
  resolve!: (value: unknown) => void;
  reject!: (err: unknown) => void;
  readonly promise: Promise<unknown>;
  readonly scope: Scope;

  constructor(
    readonly id: string,
    readonly queue: string,
    signal: AbortSignal | undefined,
    timeout: number,
    finish: (call: Call, value: unknown, isError: boolean) => void,
    inFlight: () => number,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.scope = new Scope({
      signal,
      deadline: Deadline.after(timeout),
      timeoutMessage: (ms) =>
        `RPC call to ${JSON.stringify(queue)} timed out after ${ms} ms (${inFlight()} calls in flight)`,
      onAbort: (reason) => finish(this, reason, true),
    });
  }
}

/**
 * What the RPC client needs from its broker (implemented by `Broker`).
 *
 * @example
 * ```ts
 * const rpc = new RpcClient({ model: () => connection.model, whenReady: (o) => connection.whenReady(o), reportError() {} }, 30_000);
 * ```
 */
export interface RpcHost {
  /** The live connection, if any (no wait). */
  model(): ChannelModel | undefined;
  /** The live connection once there is one (starts connecting). */
  whenReady(opts: WaitOptions): Promise<ChannelModel>;
  reportError(message: string, err: unknown): void;
  readonly logger?: Logger | undefined;
}

/**
 * The calling side of RPC. Created by the broker.
 *
 * @example
 * ```ts
 * const rpc = new RpcClient(host, 30_000);
 * const reply = await rpc.call('svc', { q: 1 }, { timeout: 1000 });
 * ```
 */
export class RpcClient {
  readonly #host: RpcHost;
  readonly #defaultTimeout: number;
  readonly #calls = new Map<string, Call>();
  readonly #finish = (call: Call, value: unknown, isError: boolean): void =>
    this.finish(call, value, isError);
  readonly #inFlight = (): number => this.#calls.size;
  #channel: Channel | undefined = undefined;
  #opening: Promise<Channel> | undefined = undefined;
  #closed = false;

  constructor(host: RpcHost, defaultTimeout: number) {
    this.#host = host;
    this.#defaultTimeout = defaultTimeout;
  }

  /** Calls in flight. */
  get pending(): number {
    return this.#calls.size;
  }

  /**
   * Publishes a request to `queue` and resolves with the decoded reply. Bad arguments throw; a
   * closed broker, an aborted signal and `timeout` 0 (a reply is never there at once) reject
   * before anything is sent or any connection is opened.
   */
  call<R>(queue: string, body: unknown, opts: CallOptions = {}): Promise<R> {
    if (typeof queue !== 'string' || queue === '')
      throw new TypeError(`queue must be a non-empty string, got ${describeValue(queue)}`);
    if (opts === null || typeof opts !== 'object') {
      throw new TypeError(`options must be an object, got ${describeValue(opts)}`);
    }
    const signal = checkSignal(opts.signal);
    const timeout = checkDuration(opts.timeout, 'timeout', this.#defaultTimeout);
    const headers = checkHeaders(opts.headers);
    const encoded = encodeBody(body);
    if (this.#closed) return Promise.reject(new BrokerClosedError('Broker is closed: call refused'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeout === 0) {
      return Promise.reject(
        new TimeoutError(
          `RPC call to ${JSON.stringify(queue)} timed out: a reply always takes a round trip, so timeout 0 can never be met`,
        ),
      );
    }
    const call = new Call(randomUUID(), queue, signal, timeout, this.#finish, this.#inFlight);
    this.#calls.set(call.id, call);
    // The caller's context, captured now: the request goes out once a connection and channel exist.
    const context = tracingEnabled() ? activeContext() : undefined;
    const sent = context === undefined ? headers : traceHeaders(headers, context);
    this.#send(call, encoded, sent, context).catch((err: unknown) => this.finish(call, err, true));
    return call.promise as Promise<R>;
  }

  async #send(
    call: Call,
    encoded: { content: Buffer; contentType: string },
    headers: Record<string, unknown> | undefined,
    context: TraceContext | undefined,
  ): Promise<void> {
    const model =
      this.#host.model() ?? (await call.scope.race(this.#host.whenReady({ signal: call.scope.signal })));
    const channel = this.#channel ?? (await call.scope.race(this.#ensureChannel(model)));
    if (!this.#calls.has(call.id)) return; // settled while connecting
    const options: Options.Publish = {
      correlationId: call.id,
      replyTo: DIRECT_REPLY_TO,
      messageId: randomUUID(),
      contentType: encoded.contentType,
      timestamp: wireTimestamp(),
      mandatory: true,
      deliveryMode: 1,
    };
    if (headers !== undefined) options.headers = headers;
    // A late server must not work on a stale request: the request expires with the call (unless the
    // call outlives the longest TTL the broker accepts).
    const left = Math.max(1, Math.ceil(call.scope.deadline.remaining()));
    if (left <= MAX_TTL) options.expiration = String(left);
    if (context === undefined) channel.publish('', call.queue, encoded.content, options);
    else withContext(context, () => channel.publish('', call.queue, encoded.content, options));
  }

  async #ensureChannel(model: ChannelModel): Promise<Channel> {
    if (this.#channel) return this.#channel;
    this.#opening ??= this.#open(model).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #open(model: ChannelModel): Promise<Channel> {
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.#host.reportError('connkit/amqp: RPC reply channel error', err));
    channel.on('close', () => this.#lost(channel));
    channel.on('return', (msg: AmqpMessage) => {
      const call = this.#calls.get(msg.properties.correlationId as string);
      if (call) {
        this.finish(
          call,
          new UnroutableError('', call.queue, 'NO_ROUTE (no queue to take the request)'),
          true,
        );
      }
    });
    await channel.consume(DIRECT_REPLY_TO, (msg) => this.#reply(msg), { noAck: true });
    this.#channel = channel;
    return channel;
  }

  #reply(msg: ConsumeMessage | null): void {
    if (msg === null) return;
    const call = this.#calls.get(msg.properties.correlationId as string);
    if (!call) return;
    try {
      const { value, isError } = readReply(msg);
      this.finish(call, value, isError);
    } catch (err) {
      this.finish(call, err, true);
    }
  }

  /** The reply channel died: its replies are lost, so every call in flight on it fails. */
  #lost(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    if (this.#calls.size > 0) {
      logDebug(this.#host.logger, 'connkit/amqp: RPC reply channel lost, failing the calls in flight', {
        calls: this.#calls.size,
      });
    }
    const error = new ConnectionError('Connection lost while waiting for the RPC reply');
    for (const call of [...this.#calls.values()]) this.finish(call, error, true);
  }

  /** Settles a call once; `isError` tells a rejection from a value. */
  finish(call: Call, value: unknown, isError: boolean): void {
    if (this.#calls.get(call.id) !== call) return;
    this.#calls.delete(call.id);
    call.scope.dispose();
    if (isError) call.reject(value);
    else call.resolve(value);
  }

  /** Fails every call in flight with `BrokerClosedError`. */
  close(): void {
    this.#closed = true;
    const error = new BrokerClosedError('Broker closed while waiting for the RPC reply');
    for (const call of [...this.#calls.values()]) this.finish(call, error, true);
    this.#channel = undefined;
  }
}

/**
 * RPC client over RabbitMQ's direct reply-to: one reply consumer per connection, many calls in
 * flight on it, replies matched by correlation id (unknown ids are ignored).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Message as AmqpMessage, Options } from 'amqplib';
import {
  checkWaitOptions,
  ConnectionError,
  describeValue,
  readWaitOptions,
  TimeoutError,
  type WaitOptions,
} from '../../src/internal/index.js';
import { decodeBody, encodeBody } from './codec.js';
import { BrokerClosedError, RemoteError, UnroutableError } from './errors.js';

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

const REPLY_TO = 'amq.rabbitmq.reply-to';

class Call {
  timer: NodeJS.Timeout | undefined = undefined;
  resolve!: (value: unknown) => void;
  reject!: (err: unknown) => void;
  readonly promise: Promise<unknown>;

  constructor(
    readonly owner: RpcClient,
    readonly id: string,
    readonly queue: string,
    readonly signal: AbortSignal | undefined,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  handleEvent(): void {
    this.owner.finish(this, this.signal?.reason, true);
  }
}

/**
 * What the RPC client needs from its broker (implemented by `Broker`).
 *
 * @example
 * ```ts
 * const rpc = new RpcClient({ whenReady: (o) => connection.whenReady(o), reportError: console.error }, 30_000);
 * ```
 */
export interface RpcHost {
  whenReady(opts: WaitOptions): Promise<ChannelModel>;
  reportError(err: Error): void;
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

  /** Publishes a request to `queue` and resolves with the decoded reply. */
  call<R>(queue: string, body: unknown, opts?: CallOptions): Promise<R> {
    // Bad arguments throw synchronously (DESIGN §2); an aborted signal or a closed broker rejects.
    if (typeof queue !== 'string' || queue === '')
      throw new TypeError(`queue must be a non-empty string, got ${describeValue(queue)}`);
    const refused = checkWaitOptions(opts);
    if (refused) return refused;
    const encoded = encodeBody(body);
    if (this.#closed) return Promise.reject(new BrokerClosedError('Broker is closed: call refused'));
    const { signal, timeout } = readWaitOptions(opts, this.#defaultTimeout);
    const call = new Call(this, randomUUID(), queue, signal);
    this.#calls.set(call.id, call);
    signal?.addEventListener('abort', call);
    const started = Date.now();
    if (timeout !== Infinity) {
      call.timer = setTimeout(() => {
        this.finish(
          call,
          new TimeoutError(
            `RPC call to ${JSON.stringify(queue)} timed out after ${timeout} ms (${this.#calls.size} calls in flight)`,
          ),
          true,
        );
      }, timeout);
    }
    this.#send(call, encoded, timeout, started, opts?.headers).catch((err: unknown) =>
      this.finish(call, err, true),
    );
    return call.promise as Promise<R>;
  }

  async #send(
    call: Call,
    encoded: { content: Buffer; contentType: string },
    timeout: number,
    started: number,
    headers: Record<string, unknown> | undefined,
  ): Promise<void> {
    const model = await this.#host.whenReady({ signal: call.signal, timeout });
    const channel = await this.#ensureChannel(model);
    if (!this.#calls.has(call.id)) return; // settled while connecting
    const options: Options.Publish = {
      correlationId: call.id,
      replyTo: REPLY_TO,
      messageId: randomUUID(),
      contentType: encoded.contentType,
      timestamp: Math.floor(started / 1000),
      mandatory: true,
      deliveryMode: 1,
    };
    if (headers !== undefined) options.headers = headers;
    // A late server must not work on a stale request: the request expires with the call.
    if (timeout !== Infinity)
      options.expiration = String(Math.max(1, Math.ceil(timeout - (Date.now() - started))));
    channel.publish('', call.queue, encoded.content, options);
  }

  async #ensureChannel(model: ChannelModel): Promise<Channel> {
    if (this.#channel) return this.#channel;
    this.#opening ??= this.#open(model).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #open(model: ChannelModel): Promise<Channel> {
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.#host.reportError(err));
    channel.on('close', () => this.#lost(channel));
    channel.on('return', (msg: AmqpMessage) => {
      const call = this.#calls.get(msg.properties.correlationId as string);
      if (call)
        this.finish(
          call,
          new UnroutableError('', call.queue, 'NO_ROUTE (no queue to take the request)'),
          true,
        );
    });
    await channel.consume(REPLY_TO, (msg) => this.#reply(msg), { noAck: true });
    this.#channel = channel;
    return channel;
  }

  #reply(msg: ConsumeMessage | null): void {
    if (msg === null) return;
    const call = this.#calls.get(msg.properties.correlationId as string);
    if (!call) return;
    const headers = msg.properties.headers as Record<string, unknown> | undefined;
    try {
      const body = decodeBody(msg.content, msg.properties.contentType as string | undefined);
      if (headers?.['x-error'] !== undefined) {
        const e = (body as { error?: { name?: unknown; message?: unknown; code?: unknown } } | null)?.error;
        const message = typeof e?.message === 'string' ? e.message : describeValue(headers['x-error']);
        this.finish(
          call,
          new RemoteError(
            message,
            typeof e?.name === 'string' ? e.name : 'Error',
            typeof e?.code === 'string' || typeof e?.code === 'number' ? e.code : undefined,
          ),
          true, // the remote handler failed: the call rejects
        );
      } else this.finish(call, body, false);
    } catch (err) {
      this.finish(call, err, true);
    }
  }

  /** The reply channel died: its replies are lost, so every call in flight on it fails. */
  #lost(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    const error = new ConnectionError('Connection lost while waiting for the RPC reply');
    for (const call of [...this.#calls.values()]) this.finish(call, error, true);
  }

  /** Settles a call once; `isError` tells a rejection from a value. */
  finish(call: Call, value: unknown, isError: boolean): void {
    if (this.#calls.get(call.id) !== call) return;
    this.#calls.delete(call.id);
    clearTimeout(call.timer);
    call.signal?.removeEventListener('abort', call);
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

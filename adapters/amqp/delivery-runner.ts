/**
 * {@link DeliveryRunner}: runs a consumer's handler on its deliveries — at most `concurrency` at
 * once, the rest buffered — and settles each one on the channel it came from: ack when the handler
 * resolves, the {@link FailurePolicy} when it throws, an RPC reply first when serving.
 * @module
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { startTimer } from '../../src/internal/index.js';
import type { MessageHandler } from './consume-options.js';
import type { FailurePolicy } from './failure-policy.js';
import { toMessage, type Message } from './message.js';
import type { ProcessProbe, ProcessTelemetry } from './process-telemetry.js';
import { sendReply } from './rpc-reply.js';

interface Delivery {
  raw: ConsumeMessage;
  channel: Channel;
}

/**
 * What the runner needs from its consumer.
 *
 * @example
 * ```ts
 * const host: RunnerHost = { channel: () => current, closing: () => false, reportError: console.error };
 * ```
 */
export interface RunnerHost {
  /** The consumer's live channel: deliveries of any other one are not settled (their tags are void). */
  channel(): Channel | undefined;
  /** True once the consumer is closing: buffered deliveries are not started. */
  closing(): boolean;
  reportError(message: string, err: unknown): void;
  /** A delivery's handler starts (stream consumers track their offsets). */
  started?(raw: ConsumeMessage): void;
  /** A delivery's handling is over, whatever its outcome. */
  finished?(raw: ConsumeMessage): void;
}

/**
 * The handler side of a consumer.
 *
 * @example
 * ```ts
 * const runner = new DeliveryRunner(host, handler, policy, { concurrency: 4, reply: false, signal, queue: 'jobs', telemetry });
 * runner.deliver(channel, raw);
 * ```
 */
export class DeliveryRunner {
  readonly stats = { acked: 0, retried: 0, deadLettered: 0, rejected: 0, requeued: 0 };
  readonly #host: RunnerHost;
  readonly #handler: MessageHandler<unknown>;
  readonly #policy: FailurePolicy;
  readonly #concurrency: number;
  readonly #reply: boolean;
  readonly #signal: AbortSignal;
  readonly #queue: string;
  readonly #stream: boolean;
  readonly #telemetry: ProcessTelemetry;
  #active = 0;
  #buffer: Delivery[] = [];
  #idle: (() => void)[] = [];

  constructor(
    host: RunnerHost,
    handler: MessageHandler<unknown>,
    policy: FailurePolicy,
    opts: {
      concurrency: number;
      reply: boolean;
      signal: AbortSignal;
      queue: string;
      stream?: boolean;
      telemetry: ProcessTelemetry;
    },
  ) {
    this.#host = host;
    this.#handler = handler;
    this.#policy = policy;
    this.#concurrency = opts.concurrency;
    this.#reply = opts.reply;
    this.#signal = opts.signal;
    this.#queue = opts.queue;
    this.#stream = opts.stream ?? false;
    this.#telemetry = opts.telemetry;
  }

  /** Handlers running. */
  get active(): number {
    return this.#active;
  }

  /** Deliveries waiting for a free handler slot. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Runs the handler on a delivery now, or as soon as a slot frees. */
  deliver(channel: Channel, raw: ConsumeMessage): void {
    if (this.#active < this.#concurrency) void this.#run({ raw, channel });
    else this.#buffer.push({ raw, channel });
  }

  /** Drops the buffered deliveries of a dead channel (the broker redelivers them). */
  dropChannel(channel: Channel): void {
    this.#buffer = this.#buffer.filter((d) => d.channel !== channel);
  }

  /** Returns every buffered delivery to the queue (closing). */
  requeueBuffered(): void {
    for (const d of this.#buffer.splice(0)) this.settle(d.channel, d.raw, 'requeue');
  }

  /** True once no handler runs, false if `timeout` ms (any duration) pass first. */
  idleWithin(timeout: number): Promise<boolean> {
    if (this.#active === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const cancel = startTimer(timeout, () => resolve(false));
      this.#idle.push(() => {
        cancel();
        resolve(true);
      });
    });
  }

  /**
   * Acks, requeues or rejects on the delivery's own channel, if it is still the live one. A stream
   * takes acks only (an ack is credit for the next delivery; a nack or reject closes the whole
   * connection with 540 NOT_IMPLEMENTED), so there every settlement is an ack.
   */
  settle(channel: Channel, raw: ConsumeMessage, how: 'ack' | 'requeue' | 'reject'): void {
    // Delivery tags belong to their channel: acking on another would close it (PRECONDITION_FAILED).
    if (channel !== this.#host.channel()) return;
    try {
      if (how === 'ack') {
        channel.ack(raw);
        this.stats.acked++;
      } else if (this.#stream) channel.ack(raw);
      else channel.nack(raw, false, how === 'requeue');
    } catch {
      // channel closed meanwhile: the broker redelivers
    }
  }

  async #run(delivery: Delivery): Promise<void> {
    this.#active++;
    this.#host.started?.(delivery.raw);
    try {
      // Observed: inside connkit's `process` span (parent: the message's trace headers, never the
      // context this buffered delivery happens to start from), published and measured.
      if (this.#telemetry.observed) await this.#telemetry.run(delivery.raw, (p) => this.#handle(delivery, p));
      else await this.#handle(delivery, undefined);
    } catch (err) {
      this.#host.reportError('connkit/amqp: delivery handling failed', err);
    } finally {
      this.#host.finished?.(delivery.raw);
      this.#active--;
      const next = this.#host.closing() ? undefined : this.#buffer.shift();
      if (next) void this.#run(next);
      else if (this.#active === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** The handler and the settlement; `probe` (observed deliveries only) is told how it went. */
  async #handle({ raw, channel }: Delivery, probe: ProcessProbe | undefined): Promise<void> {
    let msg: Message;
    try {
      msg = toMessage(raw, this.#queue);
    } catch (err) {
      await this.#failed(channel, raw, undefined, err, probe); // an unparsable body never gets better
      return;
    }
    let result: unknown;
    try {
      result = await this.#handler(msg, this.#signal);
    } catch (err) {
      if (this.#reply) {
        if (probe !== undefined) failed(probe, err, 'ack');
        sendReply(channel, raw, undefined, err, true);
        this.settle(channel, raw, 'ack');
      } else await this.#failed(channel, raw, msg, err, probe);
      return;
    }
    if (probe !== undefined) probe.outcome = 'ack';
    if (this.#reply) sendReply(channel, raw, result, undefined, false);
    this.settle(channel, raw, 'ack');
  }

  async #failed(
    channel: Channel,
    raw: ConsumeMessage,
    msg: Message | undefined,
    err: unknown,
    probe: ProcessProbe | undefined,
  ): Promise<void> {
    const outcome = await this.#policy.fail(raw, msg, err);
    if (outcome === 'requeue') {
      this.stats.requeued++;
      if (probe !== undefined) failed(probe, err, 'requeue');
      this.settle(channel, raw, 'requeue');
    } else if (outcome === 'rejected') {
      this.stats.rejected++;
      if (probe !== undefined) failed(probe, err, 'reject', this.#policy.deadLetterReason(msg, err));
      if (this.#stream)
        this.#host.reportError('connkit/amqp: handler failed on a stream message (skipped)', err);
      this.settle(channel, raw, 'reject'); // to the queue's own DLX, if it has one
    } else {
      if (outcome === 'retried') this.stats.retried++;
      else this.stats.deadLettered++;
      if (probe !== undefined) {
        if (outcome === 'retried') failed(probe, err, 'retry');
        else failed(probe, err, 'dead-letter', this.#policy.deadLetterReason(msg, err));
      }
      this.settle(channel, raw, 'ack');
    }
  }
}

function failed(
  probe: ProcessProbe,
  err: unknown,
  outcome: ProcessProbe['outcome'],
  reason?: ProcessProbe['deadLetterReason'],
): void {
  probe.failed = true;
  probe.error = err;
  probe.outcome = outcome;
  probe.deadLetterReason = reason;
}

/**
 * {@link PublishEntry}: one publish on its way — waiting in the publish queue, then in flight on the
 * confirm channel, until it settles exactly once.
 * @module
 */
import type { Options } from 'amqplib';
import type { AbortWatcher, Expiring, TraceContext } from '../../src/internal/index.js';

/** Waiting to be written (first time, or again after its channel died). */
export const QUEUED = 0;
/** Written to the channel, awaiting its confirm. */
export const INFLIGHT = 1;
/** Resolved or rejected: nothing more happens to it. */
export const SETTLED = 2;

/**
 * What settles entries (the publisher).
 *
 * @example
 * ```ts
 * const owner: EntryOwner = { confirmed: (entry, err) => …, settle: (entry, err) => … };
 * ```
 */
export interface EntryOwner {
  /** amqplib's confirm callback for the entry. */
  confirmed(entry: PublishEntry, err: unknown): void;
  /** Settles the entry once; `error === undefined` resolves. */
  settle(entry: PublishEntry, error: unknown): void;
}

/**
 * One publish. Its own fields double as the links of the publish queue's list (no wrapper object
 * per publish) and as the watcher of the caller's signal.
 *
 * @example
 * ```ts
 * const entry = new PublishEntry(owner, '', 'jobs', content, properties, signal);
 * await entry.promise;
 * ```
 */
export class PublishEntry implements AbortWatcher, Expiring {
  state = QUEUED;
  /** `"<code> <text>"` once the broker returned the message (mandatory, unroutable). */
  returned: string | undefined = undefined;
  /** Channel-level failures seen while in flight (a poison message must not loop forever). */
  failures = 0;
  /** Was in flight on a channel that closed. */
  lost = false;
  /** Nacks so far that led to a re-publish (bounded by `nackRetry.attempts`). */
  nacks = 0;
  /** The publisher's channel generation it was last written on (a nack retires only that channel). */
  generation = 0;
  /** Links of the publish queue's list of unsettled entries (publish order). */
  prev: PublishEntry | undefined = undefined;
  next: PublishEntry | undefined = undefined;
  /** When the publish times out, on the kit's clock (kept by the publish queue's DeadlineList). */
  deadline = Infinity;
  deadlineGroup: object | undefined = undefined;
  /**
   * The caller's trace context, captured at `publish()` (only with tracing on): the message is
   * written inside it, whenever and from whatever callback that happens.
   */
  context: TraceContext | undefined = undefined;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  readonly promise: Promise<void>;
  readonly onConfirm: (err: unknown) => void;

  constructor(
    readonly owner: EntryOwner,
    readonly exchange: string,
    readonly routingKey: string,
    readonly content: Buffer,
    readonly options: Options.Publish,
    readonly signal: AbortSignal | undefined,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.onConfirm = (err: unknown) => owner.confirmed(this, err);
  }

  /** The caller's signal aborted (AbortWatcher). */
  giveUp(reason: unknown): void {
    this.owner.settle(this, reason);
  }
}

/**
 * Reading a stream queue from an offset: the `offset` option of `broker.consume()` (checked
 * synchronously: a value the broker cannot parse closes the whole connection), its wire form
 * (`x-stream-offset`), and {@link StreamPosition} — where a stream consumer resumes after its
 * channel or connection was lost, so that it reads on from the first message its handler had not
 * finished, and skips what it already handled.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';

/**
 * Where a stream consumer starts: `'first'` (the oldest message kept), `'last'` (the last chunk
 * written), `'next'` (only messages written from now on), an offset (a message's `msg.offset`),
 * or a `Date` (messages written from then on, to the second; the broker starts at the chunk that
 * holds that time, so a few earlier messages may come too).
 *
 * @example
 * ```ts
 * broker.consume('events', handle, { offset: storedOffset + 1 });
 * ```
 */
export type StreamOffset = 'first' | 'last' | 'next' | number | Date;

/** The header RabbitMQ puts on every message delivered from a stream: its offset. */
export const STREAM_OFFSET_HEADER = 'x-stream-offset';

/**
 * Checks an `offset` option: throws `TypeError`/`RangeError` quoting a bad value.
 *
 * @example
 * ```ts
 * checkStreamOffset(-1); // RangeError: offset must be 'first', 'last', 'next', an integer ≥ 0 or a valid Date, got -1
 * ```
 */
export function checkStreamOffset(value: unknown): StreamOffset {
  const what = `offset must be 'first', 'last', 'next', an integer ≥ 0 or a valid Date, got ${describeValue(value)}`;
  if (value === 'first' || value === 'last' || value === 'next') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(what);
    return value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()) || value.getTime() < 0) throw new RangeError(what);
    return value;
  }
  throw new TypeError(what);
}

/**
 * The `x-stream-offset` consume argument for `offset` (a Date as an AMQP timestamp, in seconds —
 * a plain Date would be encoded as something the broker answers with a connection error).
 *
 * @example
 * ```ts
 * channel.consume(stream, onMessage, { arguments: { 'x-stream-offset': offsetArgument('first') } });
 * ```
 */
export function offsetArgument(offset: StreamOffset): unknown {
  if (offset instanceof Date) return { '!': 'timestamp', value: Math.floor(offset.getTime() / 1000) };
  return offset;
}

/**
 * The stream offset of a delivered message (its `x-stream-offset` header), if it came from a stream.
 *
 * @example
 * ```ts
 * offsetOf(raw.properties.headers); // 42
 * ```
 */
export function offsetOf(headers: Record<string, unknown> | undefined): number | undefined {
  const value = headers?.[STREAM_OFFSET_HEADER];
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

const RUNNING = 1;
const DONE = 2;

/**
 * A stream consumer's progress: the offsets delivered and not yet done (in delivery order, which
 * is offset order), and the last one done below them. A (re)subscription starts at the first
 * offset not done; a redelivered offset whose handler runs or ran already is skipped.
 *
 * @example
 * ```ts
 * const position = new StreamPosition('first');
 * channel.consume(stream, onMessage, { arguments: { 'x-stream-offset': position.resumeArgument() } });
 * if (position.accept(offset)) run(msg).finally(() => position.finished(offset));
 * ```
 */
export class StreamPosition {
  readonly #start: StreamOffset;
  /** Delivered offsets not all done yet, oldest first: 0 waiting, 1 running, 2 done. */
  readonly #states = new Map<number, number>();
  #lastDone: number | undefined = undefined;

  constructor(start: StreamOffset) {
    this.#start = start;
  }

  /** Offsets delivered whose handler has not finished. */
  get unfinished(): number {
    let n = 0;
    for (const state of this.#states.values()) if (state !== DONE) n++;
    return n;
  }

  /**
   * A delivery of `offset`: true when its handler should run (first delivery, or a redelivery of
   * one that was only waiting when its channel went); false when it runs or ran already.
   */
  accept(offset: number): boolean {
    if (this.#lastDone !== undefined && offset <= this.#lastDone) return false;
    const state = this.#states.get(offset);
    if (state === RUNNING || state === DONE) return false;
    this.#states.set(offset, 0);
    return true;
  }

  /** The handler of `offset` starts. */
  started(offset: number): void {
    if (this.#states.has(offset)) this.#states.set(offset, RUNNING);
  }

  /** The handler of `offset` is done (whatever its outcome). */
  finished(offset: number): void {
    if (!this.#states.has(offset)) return;
    this.#states.set(offset, DONE);
    for (const [o, state] of this.#states) {
      if (state !== DONE) break;
      this.#states.delete(o);
      this.#lastDone = o;
    }
  }

  /** The `x-stream-offset` to (re)subscribe with: the first offset not done, else the one after the last done. */
  resumeArgument(): unknown {
    for (const [o, state] of this.#states) if (state !== DONE) return o;
    if (this.#lastDone !== undefined) return this.#lastDone + 1;
    return offsetArgument(this.#start);
  }
}

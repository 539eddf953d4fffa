import { describe, expect, it } from 'vitest';
import { resolveConsumeOptions } from '../../../adapters/amqp/consume-options.js';
import { Broker } from '../../../adapters/amqp/index.js';
import {
  checkStreamOffset,
  offsetArgument,
  offsetOf,
  StreamPosition,
} from '../../../adapters/amqp/stream-offset.js';

const handler = async (): Promise<void> => undefined;

describe('checkStreamOffset()', () => {
  it("accepts 'first', 'last', 'next', integers ≥ 0 and valid Dates", () => {
    const date = new Date('2024-01-02T03:04:05Z');
    for (const ok of ['first', 'last', 'next', 0, 42, Number.MAX_SAFE_INTEGER, date] as const) {
      expect(checkStreamOffset(ok)).toBe(ok);
    }
  });

  it.each([
    [-1, RangeError, /got -1/],
    [1.5, RangeError, /got 1.5/],
    [Number.NaN, RangeError, /got NaN/],
    [Infinity, RangeError, /got Infinity/],
    [new Date('not a date'), RangeError, /valid Date/],
    ['middle', TypeError, /got "middle"/],
    [null, TypeError, /got null/],
    [10n, TypeError, /got 10n/],
  ])('throws for %s', (value, type, message) => {
    expect(() => checkStreamOffset(value)).toThrow(type);
    expect(() => checkStreamOffset(value)).toThrow(message);
  });
});

describe('offsetArgument() / offsetOf()', () => {
  it('sends a Date as an AMQP timestamp in seconds (a plain Date makes the broker close the connection)', () => {
    expect(offsetArgument(new Date(1_700_000_000_999))).toEqual({ '!': 'timestamp', value: 1_700_000_000 });
    expect(offsetArgument('first')).toBe('first');
    expect(offsetArgument(7)).toBe(7);
  });

  it('reads x-stream-offset (number or bigint); undefined without it', () => {
    expect(offsetOf({ 'x-stream-offset': 12 })).toBe(12);
    expect(offsetOf({ 'x-stream-offset': 12n })).toBe(12);
    expect(offsetOf({})).toBeUndefined();
    expect(offsetOf(undefined)).toBeUndefined();
  });
});

describe('StreamPosition', () => {
  it('resumes at the start it was given until something was delivered', () => {
    expect(new StreamPosition('first').resumeArgument()).toBe('first');
    expect(new StreamPosition(5).resumeArgument()).toBe(5);
  });

  it('resumes after the last offset done when everything delivered is done', () => {
    const p = new StreamPosition('first');
    for (const o of [10, 11, 12]) {
      expect(p.accept(o)).toBe(true);
      p.started(o);
      p.finished(o);
    }
    expect(p.resumeArgument()).toBe(13);
    expect(p.unfinished).toBe(0);
  });

  it('resumes at the first offset not done, and skips redeliveries of offsets running or done (concurrency)', () => {
    const p = new StreamPosition('first');
    for (const o of [0, 1, 2, 3, 4]) p.accept(o);
    p.started(0);
    p.started(1);
    p.started(2);
    p.finished(0);
    p.finished(2); // 1 still runs; 3 and 4 were only buffered when the channel went
    expect(p.resumeArgument()).toBe(1);
    expect(p.unfinished).toBe(3);
    // Redelivered from 1 on a new channel:
    expect(p.accept(1)).toBe(false); // still running
    expect(p.accept(2)).toBe(false); // done
    expect(p.accept(3)).toBe(true); // was only buffered: run it
    expect(p.accept(0)).toBe(false); // below the last done
    p.finished(1);
    expect(p.resumeArgument()).toBe(3);
    p.started(3);
    p.finished(3);
    expect(p.accept(4)).toBe(true);
    p.started(4);
    p.finished(4);
    expect(p.resumeArgument()).toBe(5);
    expect(p.unfinished).toBe(0);
  });

  it('keeps no more state than the offsets not done yet', () => {
    const p = new StreamPosition('first');
    for (let o = 0; o < 10_000; o++) {
      p.accept(o);
      p.started(o);
      p.finished(o);
    }
    expect(p.unfinished).toBe(0);
    expect(p.resumeArgument()).toBe(10_000);
  });
});

describe('consume(stream, handler, { offset })', () => {
  it('validates offset synchronously, needs a prefetch ≥ 1 and takes no retry', () => {
    expect(resolveConsumeOptions('s', handler, { offset: 'first' })).toMatchObject({
      offset: 'first',
      prefetch: 1,
    });
    expect(() => resolveConsumeOptions('s', handler, { offset: -3 })).toThrow(RangeError);
    expect(() => resolveConsumeOptions('s', handler, { offset: 'oldest' as never })).toThrow(TypeError);
    expect(() => resolveConsumeOptions('s', handler, { offset: 'first', prefetch: 0 })).toThrow(
      /prefetch must be ≥ 1 on a stream/,
    );
    expect(() =>
      resolveConsumeOptions('s', handler, { offset: 'first', retry: { attempts: 3, delay: 100 } }),
    ).toThrow(/retry is not supported on a stream/);
    expect(() =>
      resolveConsumeOptions('s', handler, {
        offset: 0,
        retry: { attempts: 1, delay: 100 },
        deadLetter: 's.dead',
      }),
    ).not.toThrow();
  });

  it('Broker.consume() and serve() throw before anything is sent', async () => {
    const broker = new Broker({ url: 'amqp://127.0.0.1:1', connectTimeout: 100 });
    broker.on('error', () => undefined);
    expect(() => broker.consume('s', handler, { offset: new Date(Number.NaN) })).toThrow(RangeError);
    expect(() => broker.serve('s', handler, { offset: 'first' } as never)).toThrow(
      /serve\(\) does not read streams/,
    );
    expect(broker.stats()).toMatchObject({ connecting: false, consumers: [] });
    await broker.close();
  });
});

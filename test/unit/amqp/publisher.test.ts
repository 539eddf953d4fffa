import { EventEmitter, getEventListeners } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BrokerClosedError,
  NackError,
  TimeoutError,
  UnroutableError,
} from '../../../adapters/amqp/errors.js';
import { Publisher, type PublishOptions } from '../../../adapters/amqp/publisher.js';
import { flush, track } from '../../support/async.js';
import { maxListenersWarnings } from '../helpers/unhandled-rejections.js';

type Confirm = (err: unknown) => void;

/** A stand-in for amqplib's ConfirmChannel: records publishes, lets the test ack/nack/close. */
class FakeChannel extends EventEmitter {
  sent: { routingKey: string; options: Record<string, unknown>; cb: Confirm }[] = [];
  writable = true;
  publish(
    _exchange: string,
    routingKey: string,
    _content: Buffer,
    options: Record<string, unknown>,
    cb: Confirm,
  ): boolean {
    this.sent.push({ routingKey, options, cb });
    return this.writable;
  }
  ackAll(): void {
    for (const s of this.sent.splice(0)) s.cb(null);
  }
  /** amqplib fails every unconfirmed callback, then emits 'close'. */
  die(error?: Error): void {
    if (error) this.emit('error', error);
    for (const s of this.sent.splice(0)) s.cb(new Error('channel closed'));
    this.emit('close');
  }
}

function setup(opts: { maxPending?: number; publishTimeout?: number } = {}) {
  const channels: FakeChannel[] = [];
  const model = {
    createConfirmChannel: async () => {
      const ch = new FakeChannel();
      channels.push(ch);
      return ch;
    },
  } as unknown as ChannelModel;
  const publisher = new Publisher(
    { connected: () => true, demand: () => undefined, reopen: () => undefined },
    { maxPending: 100, publishTimeout: 10_000, ...opts },
  );
  return { publisher, model, channels };
}

describe('Publisher.publish()', () => {
  it("stops writing on amqplib's false return and resumes on 'drain'", async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const ch = channels[0]!;
    ch.writable = false;
    const all = [1, 2, 3].map((n) => publisher.publish('', `k${n}`, n));
    expect(ch.sent.map((s) => s.routingKey)).toEqual(['k1']);
    ch.writable = true;
    ch.emit('drain');
    expect(ch.sent.map((s) => s.routingKey)).toEqual(['k1', 'k2', 'k3']);
    ch.ackAll();
    await Promise.all(all);
  });

  it('rejects with NackError on a nack', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = publisher.publish('', 'k', 1);
    channels[0]!.sent[0]!.cb(new Error('message nacked'));
    await expect(p).rejects.toBeInstanceOf(NackError);
  });

  it('rejects with UnroutableError when the message was returned before its ack', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = publisher.publish('ex', 'nowhere', 1, { messageId: 'abc' });
    const ch = channels[0]!;
    ch.emit('return', {
      properties: { messageId: 'abc' },
      fields: { replyCode: 312, replyText: 'NO_ROUTE' },
    });
    ch.ackAll();
    await expect(p).rejects.toBeInstanceOf(UnroutableError);
  });

  it('re-publishes unconfirmed messages with the same messageId on the next channel, in order', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const ps = [1, 2, 3].map((n) => publisher.publish('', `k${n}`, n));
    const ids = channels[0]!.sent.map((s) => s.options.messageId);
    channels[0]!.sent[0]!.cb(null); // the first was confirmed before the cut
    channels[0]!.die();
    await publisher.attach(model);
    const again = channels[1]!.sent;
    expect(again.map((s) => s.routingKey)).toEqual(['k2', 'k3']);
    expect(again.map((s) => s.options.messageId)).toEqual(ids.slice(1));
    channels[1]!.ackAll();
    await Promise.all(ps);
    expect(publisher.stats()).toMatchObject({ pending: 0, republished: 2 });
  });

  it('fails pending publishes with BrokerClosedError when closed with a zero timeout', async () => {
    const { publisher, model } = setup();
    await publisher.attach(model);
    const p = publisher.publish('', 'k', 1);
    await publisher.close(0);
    await expect(p).rejects.toBeInstanceOf(BrokerClosedError);
    await expect(publisher.publish('', 'k', 1)).rejects.toBeInstanceOf(BrokerClosedError);
  });

  it('waits for outstanding confirms on close', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = publisher.publish('', 'k', 1);
    const closing = publisher.close(10_000);
    await flush();
    channels[0]!.ackAll();
    await closing;
    await expect(p).resolves.toBeUndefined();
  });
});

const DAY = 86_400_000;

describe('Publisher.publish() timeouts', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits out a timeout of 3e9 ms (over 24.8 days) instead of firing at once', async () => {
    const { publisher, model } = setup();
    await publisher.attach(model);
    const p = track(publisher.publish('', 'k', 1, { timeout: 3e9 }));
    await vi.advanceTimersByTimeAsync(30 * DAY);
    expect(p.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(3e9 - 30 * DAY);
    expect(p.status).toBe('rejected');
    expect(p.reason).toBeInstanceOf(TimeoutError);
  });

  it('never times out a publish with timeout Infinity', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = track(publisher.publish('', 'k', 1, { timeout: Infinity }));
    await vi.advanceTimersByTimeAsync(400 * DAY);
    expect(p.status).toBe('pending');
    channels[0]!.ackAll();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.status).toBe('fulfilled');
  });

  it.each([3e9, Infinity])('honours publishTimeout %s (the default-timeout path)', async (publishTimeout) => {
    const { publisher, model } = setup({ publishTimeout });
    await publisher.attach(model);
    const p = track(publisher.publish('', 'k', 1));
    await vi.advanceTimersByTimeAsync(30 * DAY);
    expect(p.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(3e9 - 30 * DAY);
    expect(p.status).toBe(publishTimeout === Infinity ? 'pending' : 'rejected');
  });

  it('close(3e9) waits for an outstanding confirm instead of failing it at once', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = track(publisher.publish('', 'k', 1, { timeout: Infinity }));
    const closing = track(publisher.close(3e9));
    await vi.advanceTimersByTimeAsync(DAY);
    expect(p.status).toBe('pending');
    expect(closing.status).toBe('pending');
    channels[0]!.ackAll();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.status).toBe('fulfilled');
    expect(closing.status).toBe('fulfilled');
  });

  it('timeout 0 always rejects with TimeoutError and sends nothing, even when the confirm would come at once', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = publisher.publish('', 'k', 1, { timeout: 0 });
    channels[0]!.ackAll();
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    expect(channels[0]!.sent).toHaveLength(0);
    expect(publisher.stats()).toMatchObject({ pending: 0, published: 0 });
  });
});

describe('Publisher.publish() and a shared signal', () => {
  it('listens to a signal shared by 10 000 publishes once: no MaxListenersExceededWarning, no listener left', async () => {
    const { publisher, model, channels } = setup({ maxPending: 20_000 });
    await publisher.attach(model);
    const signal = new AbortController().signal;
    const warnings = await maxListenersWarnings(async () => {
      const all = Array.from({ length: 10_000 }, (_, i) => publisher.publish('', `k${i}`, i, { signal }));
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
      // Confirms stream back a window at a time.
      while (publisher.stats().pending > 0) {
        channels[0]!.ackAll();
        await flush();
      }
      await Promise.all(all);
    });
    expect(warnings).toEqual([]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('an abort of the shared signal rejects every publish on it with the reason', async () => {
    const { publisher, model } = setup();
    await publisher.attach(model);
    const ac = new AbortController();
    const all = [1, 2, 3].map((n) => publisher.publish('', `k${n}`, n, { signal: ac.signal }));
    const reason = new Error('request gone');
    ac.abort(reason);
    for (const p of all) await expect(p).rejects.toBe(reason);
    expect(publisher.stats().pending).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('Publisher.publish() validation', () => {
  it.each([
    ['expiration: -1', { expiration: -1 }, RangeError, /expiration.*-1/],
    ['expiration: 1.5', { expiration: 1.5 }, RangeError, /expiration.*1\.5/],
    ['expiration: "abc"', { expiration: 'abc' }, RangeError, /expiration.*"abc"/],
    ['expiration: "-5"', { expiration: '-5' }, RangeError, /expiration.*"-5"/],
    ['expiration: 2 ** 32', { expiration: 2 ** 32 }, RangeError, /expiration.*4294967296/],
    ['expiration: true', { expiration: true as unknown as number }, TypeError, /expiration.*true/],
    ['priority: 256', { priority: 256 }, RangeError, /priority.*256/],
    ['priority: -1', { priority: -1 }, RangeError, /priority.*-1/],
    ['priority: 1.5', { priority: 1.5 }, RangeError, /priority.*1\.5/],
    ['priority: "9"', { priority: '9' as unknown as number }, TypeError, /priority.*"9"/],
    ['messageId: 5', { messageId: 5 as unknown as string }, TypeError, /messageId.*5/],
    ['headers: "x"', { headers: 'x' as unknown as Record<string, unknown> }, TypeError, /headers.*"x"/],
    ['persistent: "no"', { persistent: 'no' as unknown as boolean }, TypeError, /persistent.*"no"/],
  ] as const)(
    '%s throws synchronously naming the option and sends nothing',
    async (_, opts, cls, message) => {
      const { publisher, model, channels } = setup();
      await publisher.attach(model);
      expect(() => publisher.publish('', 'k', 1, opts as PublishOptions)).toThrow(cls);
      expect(() => publisher.publish('', 'k', 1, opts as PublishOptions)).toThrow(message);
      expect(channels[0]!.sent).toHaveLength(0);
    },
  );

  it.each([
    ['expiration: 0', { expiration: 0 }, '0'],
    ['expiration: "60000"', { expiration: '60000' }, '60000'],
    ['expiration: 2 ** 32 - 1', { expiration: 2 ** 32 - 1 }, '4294967295'],
  ] as const)('%s is sent as the decimal string', async (_, opts, wire) => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = publisher.publish('', 'k', 1, opts);
    expect(channels[0]!.sent[0]!.options.expiration).toBe(wire);
    channels[0]!.ackAll();
    await p;
  });
});

describe('Publisher.republish()', () => {
  it('sends the properties as given: a message without messageId stays without one', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const p = publisher.republish('', 'delay', Buffer.from('x'), { headers: { 'x-connkit-attempt': 2 } });
    const sent = channels[0]!.sent[0]!;
    expect(sent.options.messageId).toBeUndefined();
    expect(sent.options.headers).toEqual({ 'x-connkit-attempt': 2 });
    channels[0]!.ackAll();
    await expect(p).resolves.toBeUndefined();
  });

  it('matches a return of an id-less message by destination and bytes, leaving the neighbours alone', async () => {
    const { publisher, model, channels } = setup();
    await publisher.attach(model);
    const withId = publisher.publish('', 'gone', 'same', { messageId: 'n-1' });
    const other = publisher.republish('', 'gone', Buffer.from('other'), {});
    const idless = publisher.republish('', 'gone', Buffer.from('same'), {});
    const ch = channels[0]!;
    ch.emit('return', {
      content: Buffer.from('same'),
      properties: { messageId: undefined },
      fields: { exchange: '', routingKey: 'gone', replyCode: 312, replyText: 'NO_ROUTE' },
    });
    ch.ackAll();
    await expect(idless).rejects.toBeInstanceOf(UnroutableError);
    await expect(withId).resolves.toBeUndefined();
    await expect(other).resolves.toBeUndefined();
  });
});

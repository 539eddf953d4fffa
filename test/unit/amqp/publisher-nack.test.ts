import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { NackError } from '../../../adapters/amqp/errors.js';
import { resolveBrokerOptions } from '../../../adapters/amqp/options.js';
import { Publisher } from '../../../adapters/amqp/publisher.js';
import { flush, track } from '../../support/async.js';

type Confirm = (err: unknown) => void;

/** amqplib's ConfirmChannel as far as the publisher uses it; the test acks, nacks and closes. */
class FakeChannel extends EventEmitter {
  sent: { id: unknown; cb: Confirm }[] = [];
  closed = false;
  publish(
    _exchange: string,
    _routingKey: string,
    _content: Buffer,
    options: { messageId?: unknown },
    cb: Confirm,
  ): boolean {
    this.sent.push({ id: options.messageId, cb });
    return true;
  }
  ack(id: string): void {
    this.#take(id).cb(null);
  }
  nack(id: string): void {
    this.#take(id).cb(new Error('message nacked'));
  }
  async waitForConfirms(): Promise<void> {
    while (this.sent.length > 0) await flush();
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sent.splice(0)) s.cb(new Error('channel closed'));
    this.emit('close');
  }
  #take(id: string): { id: unknown; cb: Confirm } {
    const i = this.sent.findIndex((s) => s.id === id);
    if (i < 0) throw new Error(`${id} is not in flight`);
    return this.sent.splice(i, 1)[0]!;
  }
}

function setup(nackRetry = { attempts: 3, delay: 250 }, publishTimeout = 10_000) {
  const channels: FakeChannel[] = [];
  const reopens: number[] = [];
  const model = {
    createConfirmChannel: async () => {
      const ch = new FakeChannel();
      channels.push(ch);
      return ch;
    },
  } as unknown as ChannelModel;
  const publisher = new Publisher(
    { connected: () => true, demand: () => undefined, reopen: (delay) => void reopens.push(delay) },
    { maxPending: 100, publishTimeout, nackRetry },
  );
  const sentOn = (i: number): unknown[] => channels[i]!.sent.map((s) => s.id);
  return { publisher, model, channels, reopens, sentOn };
}

describe('Publisher on a nack', () => {
  it('retires the channel, asks for a fresh one after the pause and publishes the nacked message there first', async () => {
    const { publisher, model, channels, reopens, sentOn } = setup();
    await publisher.attach(model);
    const a = track(publisher.publish('', 'q', 1, { messageId: 'a' }));
    const b = track(publisher.publish('', 'q', 2, { messageId: 'b' }));
    channels[0]!.nack('a');
    expect(reopens).toEqual([250]);
    // Nothing more goes to the retired channel: c waits.
    const c = track(publisher.publish('', 'q', 3, { messageId: 'c' }));
    expect(sentOn(0)).toEqual(['b']);
    // b is still in flight there and gets its ack; then the retired channel closes.
    channels[0]!.ack('b');
    await flush(3);
    expect(b.status).toBe('fulfilled');
    expect(channels[0]!.closed).toBe(true);
    await publisher.attach(model);
    expect(sentOn(1)).toEqual(['a', 'c']);
    channels[1]!.ack('a');
    channels[1]!.ack('c');
    await flush();
    expect([a.status, c.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(publisher.stats()).toMatchObject({ pending: 0, nackRetried: 1, confirmed: 3 });
  });

  it('closes the retired channel only after its last confirm: a second nack there does not fail (and re-publish) the rest', async () => {
    const { publisher, model, channels, sentOn } = setup();
    await publisher.attach(model);
    const ps = ['a', 'b', 'c'].map((id) => publisher.publish('', 'q', id, { messageId: id }));
    channels[0]!.nack('a');
    channels[0]!.nack('b');
    await flush(3);
    expect(channels[0]!.closed).toBe(false);
    channels[0]!.ack('c');
    await flush(3);
    expect(channels[0]!.closed).toBe(true);
    await publisher.attach(model);
    expect(sentOn(1)).toEqual(['a', 'b']);
    channels[1]!.ack('a');
    channels[1]!.ack('b');
    await Promise.all(ps);
    expect(publisher.stats()).toMatchObject({ republished: 0, nackRetried: 2, published: 5 });
  });

  it('rejects with NackError when the nacks persist past nackRetry.attempts', async () => {
    const { publisher, model, channels, reopens } = setup({ attempts: 2, delay: 100 });
    await publisher.attach(model);
    const p = publisher.publish('', 'q', 1, { messageId: 'x' });
    channels[0]!.nack('x');
    await publisher.attach(model);
    channels[1]!.nack('x');
    await publisher.attach(model);
    channels[2]!.nack('x');
    await expect(p).rejects.toBeInstanceOf(NackError);
    await expect(p).rejects.toThrow('The broker nacked message x 3 times, on 3 channels');
    expect(reopens).toEqual([100, 200, 400]);
  });

  it('the pause doubles while fresh channels keep nacking (at most 8 × delay) and starts over after an ack', async () => {
    const { publisher, model, channels, reopens } = setup({ attempts: 10, delay: 100 });
    const ps: Promise<void>[] = [];
    for (let round = 0; round < 6; round++) {
      await publisher.attach(model);
      ps.push(publisher.publish('', 'q', round, { messageId: `m${round}` }));
      for (const s of [...channels[round]!.sent]) channels[round]!.nack(String(s.id));
    }
    expect(reopens).toEqual([100, 200, 400, 800, 800, 800]);
    await publisher.attach(model);
    for (const s of [...channels[6]!.sent]) channels[6]!.ack(String(s.id));
    await Promise.all(ps);
    const late = publisher.publish('', 'q', 'late', { messageId: 'late' });
    channels[6]!.nack('late');
    expect(reopens.at(-1)).toBe(100);
    await publisher.attach(model);
    channels[7]!.ack('late');
    await late;
  });

  it('a late nack from a retired channel does not retire the fresh one', async () => {
    const { publisher, model, channels, reopens, sentOn } = setup();
    await publisher.attach(model);
    const a = publisher.publish('', 'q', 1, { messageId: 'a' });
    const b = publisher.publish('', 'q', 2, { messageId: 'b' });
    channels[0]!.nack('a');
    await publisher.attach(model);
    expect(sentOn(1)).toEqual(['a']);
    channels[0]!.nack('b'); // the retired channel's last word
    await flush();
    expect(reopens).toEqual([250]);
    expect(sentOn(1)).toEqual(['a', 'b']);
    channels[1]!.ack('a');
    channels[1]!.ack('b');
    await Promise.all([a, b]);
  });

  it('rejects at once when the publish timeout leaves no room for the pause', async () => {
    const { publisher, model, channels, reopens } = setup({ attempts: 3, delay: 5_000 }, 1_000);
    await publisher.attach(model);
    const p = publisher.publish('', 'q', 1, { messageId: 'x' });
    channels[0]!.nack('x');
    await expect(p).rejects.toThrow('The broker nacked message x');
    expect(reopens).toEqual([5_000]);
    expect(publisher.stats().nackRetried).toBe(0);
  });

  it('nackRetry { attempts: 0 }: the first nack rejects and the channel stays in use', async () => {
    const { publisher, model, channels, reopens, sentOn } = setup({ attempts: 0, delay: 250 });
    await publisher.attach(model);
    const p = publisher.publish('', 'q', 1, { messageId: 'x' });
    channels[0]!.nack('x');
    await expect(p).rejects.toBeInstanceOf(NackError);
    expect(reopens).toEqual([]);
    const q = publisher.publish('', 'q', 2, { messageId: 'y' });
    expect(sentOn(0)).toEqual(['y']);
    channels[0]!.ack('y');
    await q;
  });
});

describe('resolveBrokerOptions() nackRetry', () => {
  it('defaults to { attempts: 3, delay: 250 } and checks its fields', () => {
    expect(resolveBrokerOptions({ url: 'amqp://h' }).nackRetry).toEqual({ attempts: 3, delay: 250 });
    expect(resolveBrokerOptions({ url: 'amqp://h', nackRetry: { attempts: 0 } }).nackRetry).toEqual({
      attempts: 0,
      delay: 250,
    });
    expect(() => resolveBrokerOptions({ url: 'amqp://h', nackRetry: 3 as never })).toThrow(
      /nackRetry must be .* got 3/,
    );
    expect(() => resolveBrokerOptions({ url: 'amqp://h', nackRetry: { attempts: -1 } })).toThrow(RangeError);
    expect(() => resolveBrokerOptions({ url: 'amqp://h', nackRetry: { attempts: 1.5 } })).toThrow(/got 1.5/);
    expect(() => resolveBrokerOptions({ url: 'amqp://h', nackRetry: { delay: Number.NaN } })).toThrow(
      RangeError,
    );
  });
});

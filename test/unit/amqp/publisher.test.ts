import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { BrokerClosedError, NackError, UnroutableError } from '../../../adapters/amqp/errors.js';
import { Publisher } from '../../../adapters/amqp/publisher.js';
import { flush } from '../../support/async.js';

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

function setup() {
  const channels: FakeChannel[] = [];
  const model = {
    createConfirmChannel: async () => {
      const ch = new FakeChannel();
      channels.push(ch);
      return ch;
    },
  } as unknown as ChannelModel;
  const publisher = new Publisher(
    { connected: () => true, reopen: () => undefined, reportError: () => undefined },
    { maxPending: 100, publishTimeout: 10_000 },
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

/**
 * `Broker extends EventEmitter<BrokerEvents>`: listeners are type-checked by event name. The
 * `@ts-expect-error` lines make `tsc` (npm run typecheck) fail if a wrong name or payload compiles.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { Broker, type BrokerEvents } from '../../../adapters/amqp/index.js';

describe('BrokerEvents', () => {
  it('types every event the Broker emits', () => {
    expectTypeOf<keyof BrokerEvents>().toEqualTypeOf<
      'connect' | 'disconnect' | 'blocked' | 'unblocked' | 'error'
    >();
    expectTypeOf<BrokerEvents['connect']>().toEqualTypeOf<[info: { url: string }]>();
    expectTypeOf<BrokerEvents['disconnect']>().toEqualTypeOf<[error: Error | undefined]>();
    expectTypeOf<BrokerEvents['blocked']>().toEqualTypeOf<[reason: string]>();
    expectTypeOf<BrokerEvents['unblocked']>().toEqualTypeOf<[]>();
    expectTypeOf<BrokerEvents['error']>().toEqualTypeOf<[error: Error]>();
  });

  it('broker.on() infers each listener’s arguments and refuses wrong names and payloads', () => {
    // Never connects: no URL is dialled until something asks for a connection.
    const broker = new Broker({ url: 'amqp://guest:guest@127.0.0.1:1' });
    const seen: string[] = [];
    broker.on('connect', ({ url }) => {
      expectTypeOf(url).toEqualTypeOf<string>();
      seen.push(url);
    });
    broker.on('disconnect', (err) => expectTypeOf(err).toEqualTypeOf<Error | undefined>());
    broker.on('blocked', (reason) => expectTypeOf(reason).toEqualTypeOf<string>());
    broker.once('unblocked', () => seen.push('unblocked'));
    broker.on('error', (err) => expectTypeOf(err).toEqualTypeOf<Error>());
    // Compiled, never run: each line must be a type error.
    const wrong = (): void => {
      // @ts-expect-error: no such event
      broker.on('connected', () => undefined);
      // @ts-expect-error: 'connect' carries { url }, not a string
      broker.on('connect', (url: string) => seen.push(url));
      // @ts-expect-error: 'blocked' carries a string reason
      broker.on('blocked', (reason: number) => reason);
      // @ts-expect-error: 'unblocked' has no payload
      broker.emit('unblocked', 'x');
    };
    expect(wrong).toBeTypeOf('function');
    expect(broker.emit('connect', { url: 'amqp://h' })).toBe(true);
    expect(seen).toEqual(['amqp://h']);
  });
});

import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { ClosedError, ConnkitError, PoolClosedError } from '../../../src/errors.js';
import { BrokerClosedError } from '../../../adapters/amqp/errors.js';
import { Backoff } from '../../../src/internal/backoff.js';
import { logDebug, reportBackground } from '../../../src/internal/background.js';
import { toError } from '../../../src/internal/to-error.js';

describe('the core seam', () => {
  it('toError() keeps an Error and describes anything else', () => {
    const err = new TypeError('x');
    expect(toError(err)).toBe(err);
    expect(toError('boom').message).toBe('Non-error thrown: "boom"');
    expect(toError({ code: 1 }).message).toBe('Non-error thrown: {"code":1}');
  });

  it('ClosedError is the one base of PoolClosedError and BrokerClosedError, with <RESOURCE>_CLOSED codes', () => {
    const pool = new PoolClosedError();
    const broker = new BrokerClosedError();
    for (const e of [pool, broker]) {
      expect(e).toBeInstanceOf(ClosedError);
      expect(e).toBeInstanceOf(ConnkitError);
    }
    expect(pool.code).toBe('POOL_CLOSED');
    expect(broker.code).toBe('BROKER_CLOSED');
    expect(new ClosedError().code).toBe('CLOSED');
    expect(broker.name).toBe('BrokerClosedError');
  });

  it('Backoff grows per failure within its cap and starts over after reset()', () => {
    const backoff = new Backoff({ initialDelay: 100, maxDelay: 350, jitter: false });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 350, 350]);
    expect(backoff.failures).toBe(4);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('Backoff validates its options at once', () => {
    expect(() => new Backoff({ initialDelay: -1 })).toThrow(RangeError);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(RangeError);
  });

  it('Backoff.wait() rejects with the signal reason on abort', async () => {
    const backoff = new Backoff({ initialDelay: 60_000 });
    const controller = new AbortController();
    const waiting = backoff.wait(controller.signal);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });

  it("reportBackground() emits 'error' when someone listens, else logs details first then the message (pino's order)", () => {
    const emitter = new EventEmitter();
    const warn = vi.fn();
    const logger = { warn };
    reportBackground({ emitter, logger }, 'connkit/x: lost', 'oops', { target: 'db:5432' });
    expect(warn).toHaveBeenCalledTimes(1);
    const [details, message] = warn.mock.calls[0] as [Record<string, unknown>, string];
    expect(message).toBe('connkit/x: lost');
    expect(details['target']).toBe('db:5432');
    expect(details['err']).toBeInstanceOf(Error);
    const heard = vi.fn();
    emitter.on('error', heard);
    reportBackground({ emitter, logger }, 'connkit/x: lost', new Error('again'));
    expect(heard).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('reportBackground() with neither listener nor logger neither throws nor emits', () => {
    const emitter = new EventEmitter();
    expect(() => reportBackground({ emitter }, 'x', new Error('e'))).not.toThrow();
    expect(() => logDebug(undefined, 'x', {})).not.toThrow();
  });
});

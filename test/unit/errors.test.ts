import { describe, expect, it } from 'vitest';
import {
  BrokenBarrierError,
  CancelledError,
  ConnectionError,
  ConnkitError,
  InvalidStateError,
  PoolClosedError,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TimeoutError,
} from '../../src/errors.js';

describe('errors', () => {
  const cases = [
    [TimeoutError, 'TIMEOUT'],
    [CancelledError, 'CANCELLED'],
    [InvalidStateError, 'INVALID_STATE'],
    [BrokenBarrierError, 'BROKEN_BARRIER'],
    [QueueEmptyError, 'QUEUE_EMPTY'],
    [QueueFullError, 'QUEUE_FULL'],
    [QueueShutDownError, 'QUEUE_SHUT_DOWN'],
    [PoolClosedError, 'POOL_CLOSED'],
    [ConnectionError, 'CONNECTION'],
  ] as const;

  it.each(cases)('%o has its stable code, its own name and extends ConnkitError', (Cls, code) => {
    const err = new Cls('boom');
    expect(err).toBeInstanceOf(ConnkitError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.name).toBe(Cls.name);
    expect(err.message).toBe('boom');
    expect(String(err)).toBe(`${Cls.name}: boom`);
  });

  it('ConnkitError keeps the underlying error as cause', () => {
    const driver = new Error('ECONNREFUSED');
    const err = new ConnectionError('cannot connect to 127.0.0.1:1', { cause: driver });
    expect(err.cause).toBe(driver);
  });

  it('ConnkitError without a cause has no cause property', () => {
    expect('cause' in new TimeoutError('late')).toBe(false);
  });

  it('ConnkitError defaults its code to CONNKIT and allows a custom one', () => {
    expect(new ConnkitError('x').code).toBe('CONNKIT');
    expect(new ConnkitError('x', 'CUSTOM').code).toBe('CUSTOM');
  });

  it('default messages explain the condition', () => {
    expect(new QueueEmptyError().message).toMatch(/empty/);
    expect(new PoolClosedError().message).toMatch(/closed/);
    expect(new BrokenBarrierError().message).toMatch(/broken/);
  });
});

import { describe, expect, it } from 'vitest';
import { NonRetryableError, RequeueError, type Message } from '../../../adapters/amqp/index.js';
import { failureAction } from '../../../adapters/amqp/failure-action.js';

const msg = (attempt: number): Message => ({ attempt, body: null }) as unknown as Message;

describe('failureAction()', () => {
  it('retries while attempts are left and dead-letters once they are spent', () => {
    const report = (): void => undefined;
    expect(failureAction(new Error('x'), msg(1), 3, undefined, report)).toBe('retry');
    expect(failureAction(new Error('x'), msg(2), 3, undefined, report)).toBe('retry');
    expect(failureAction(new Error('x'), msg(3), 3, undefined, report)).toBe('dead-letter');
    expect(failureAction(new Error('x'), msg(1), 1, undefined, report)).toBe('dead-letter'); // no retry
  });

  it('dead-letters a NonRetryableError (and subclasses) at once without asking retryIf', () => {
    class Poison extends NonRetryableError {}
    const asked: unknown[] = [];
    const retryIf = (err: unknown): boolean => asked.push(err) > 0;
    expect(failureAction(new NonRetryableError(), msg(1), 5, retryIf, () => undefined)).toBe('dead-letter');
    expect(failureAction(new Poison('p'), msg(1), 5, retryIf, () => undefined)).toBe('dead-letter');
    expect(asked).toEqual([]);
  });

  it('requeues a RequeueError, attempts spent or not, and never asks retryIf', () => {
    const retryIf = (): boolean => {
      throw new Error('must not be asked');
    };
    expect(failureAction(new RequeueError(), msg(1), 3, retryIf, () => undefined)).toBe('requeue');
    expect(failureAction(new RequeueError(), msg(9), 3, retryIf, () => undefined)).toBe('requeue');
  });

  it('asks retryIf(err, msg) only while attempts are left; false dead-letters', () => {
    const asked: [unknown, number][] = [];
    const err = new TypeError('bad input');
    const retryIf = (e: unknown, m: Message): boolean => {
      asked.push([e, m.attempt]);
      return !(e instanceof TypeError);
    };
    expect(failureAction(err, msg(1), 3, retryIf, () => undefined)).toBe('dead-letter');
    expect(failureAction(new Error('io'), msg(2), 3, retryIf, () => undefined)).toBe('retry');
    expect(failureAction(new Error('io'), msg(3), 3, retryIf, () => undefined)).toBe('dead-letter');
    expect(asked).toEqual([
      [err, 1],
      [expect.any(Error), 2],
    ]);
  });

  it('reports a retryIf that throws and retries, the default it refines', () => {
    const reported: unknown[] = [];
    const broken = new RangeError('broken predicate');
    const action = failureAction(
      new Error('x'),
      msg(1),
      3,
      () => {
        throw broken;
      },
      (e) => reported.push(e),
    );
    expect(action).toBe('retry');
    expect(reported).toEqual([broken]);
  });

  it('dead-letters a delivery that could not be decoded (no message) at once', () => {
    expect(
      failureAction(
        new SyntaxError('json'),
        undefined,
        5,
        () => true,
        () => undefined,
      ),
    ).toBe('dead-letter');
  });
});

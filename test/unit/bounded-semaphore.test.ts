import { describe, expect, it } from 'vitest';
import { BoundedSemaphore } from '../../src/bounded-semaphore.js';
import { InvalidStateError } from '../../src/errors.js';
import { Semaphore } from '../../src/semaphore.js';

describe('BoundedSemaphore.release()', () => {
  it('throws InvalidStateError when released above the initial value', async () => {
    const sem = new BoundedSemaphore(2);
    expect(() => sem.release()).toThrow(InvalidStateError);
    await sem.acquire();
    sem.release();
    expect(() => sem.release()).toThrow(/2 of 2 already free/);
    expect(sem.value).toBe(2);
  });

  it('hands permits to waiters without tripping the bound', async () => {
    const sem = new BoundedSemaphore(1);
    await sem.acquire();
    const waiters = [sem.acquire(), sem.acquire()];
    sem.release();
    await waiters[0];
    sem.release();
    await waiters[1];
    sem.release();
    expect(sem.value).toBe(1);
    expect(() => sem.release()).toThrow(InvalidStateError);
  });

  it('passes the permit on when a woken waiter is aborted, within the bound', async () => {
    const sem = new BoundedSemaphore(1);
    await sem.acquire();
    const ac = new AbortController();
    const first = sem.acquire({ signal: ac.signal });
    sem.release();
    ac.abort();
    await expect(first).rejects.toBeInstanceOf(DOMException);
    expect(sem.value).toBe(1);
    expect(() => sem.release()).toThrow(InvalidStateError);
  });
});

describe('new BoundedSemaphore()', () => {
  it('is a Semaphore with one permit by default and rejects negative values', () => {
    const sem = new BoundedSemaphore();
    expect(sem).toBeInstanceOf(Semaphore);
    expect(sem.value).toBe(1);
    expect(() => new BoundedSemaphore(-1)).toThrow(RangeError);
  });

  it('names itself in timeout messages', async () => {
    const sem = new BoundedSemaphore(1);
    await sem.acquire();
    await expect(sem.acquire({ timeout: 0 })).rejects.toThrow(
      'BoundedSemaphore.acquire() timed out after 0 ms (0 of 1 free, 0 waiting)',
    );
  });

  it('runs use() within the bound', async () => {
    const sem = new BoundedSemaphore(2);
    await expect(sem.use(async () => 'ok')).resolves.toBe('ok');
    expect(sem.value).toBe(2);
  });
});

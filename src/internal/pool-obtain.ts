/**
 * Internal: the acquire path of a {@link Pool} once the caller holds a slot — take the resource
 * handed over with the slot, else an idle one, else create one (with bounded, backed-off retries);
 * and the warm-up that keeps `min` resources made.
 *
 * Everything that can finish synchronously does (a resource handed over and a synchronous
 * `validate`: no promise, no timer); the rest runs under an `Acquisition` (the caller's signal and
 * what is left of its deadline).
 * @module
 */
import type { Lease } from '../lease.js';
import { backoffDelay } from '../retry.js';
import { sleep } from '../timeout.js';
import { Acquisition } from './pool-acquisition.js';
import type { PoolCore } from './pool-core.js';
import type { SlotWaiter } from './slot-queue.js';

type Acq<T> = Acquisition<Lease<T>> & { origin?: Error | undefined };
type Checked<T> = { resource: T; valid: Promise<boolean> };

/**
 * A queued caller was granted a slot (and maybe a resource): finish like a caller who found a slot
 * free. An abort that landed after the grant wins: the slot and resource go on to the next caller.
 *
 * @example
 * ```ts
 * const lease = await waiter.promise.then((w) => granted(core, w));
 * ```
 */
export function granted<T>(core: PoolCore<T>, w: SlotWaiter<T>): Lease<T> | Promise<Lease<T>> {
  const r = w.resource;
  w.resource = undefined;
  const signal = w.signal;
  if (signal?.aborted) {
    if (r === undefined) core.releaseSlot();
    else core.putBack(r);
    throw signal.reason;
  }
  return r === undefined
    ? withSlot(core, signal, w.ms, w.deadline, w.origin)
    : checkIdle(core, r, signal, w.ms, w.deadline, w.origin);
}

/**
 * Holding a slot and no resource: an idle one from the store, else create. `deadline` is
 * `Date.now()` based (`Infinity`: none); `ms` is the caller's timeout, for messages.
 *
 * @example
 * ```ts
 * if (core.sem.tryAcquire()) return withSlot(core, signal, 5000, Date.now() + 5000, undefined);
 * ```
 */
export function withSlot<T>(
  core: PoolCore<T>,
  signal: AbortSignal | undefined,
  ms: number,
  deadline: number,
  origin: Error | undefined,
): Lease<T> | Promise<Lease<T>> {
  if (core.closing) {
    core.releaseSlot();
    throw core.closedError();
  }
  if (core.store.idle === 0) return acquireSlow(core, signal, ms, deadline, origin, undefined);
  const idle = core.store.borrowIdle();
  if (!(idle instanceof Promise)) return checkIdle(core, idle, signal, ms, deadline, origin);
  return idle.then((r) => checkIdle(core, r, signal, ms, deadline, origin));
}

/**
 * `Pool.tryAcquire()`: a slot and an idle resource that validates synchronously, both at once, or
 * `undefined` with nothing held. Never creates and never waits; a queued caller keeps precedence.
 * `marker` starts the stack of the leak warning.
 *
 * @example
 * ```ts
 * const lease = tryLend(core, pool.tryAcquire) ?? (await slowPath());
 * ```
 */
export function tryLend<T>(core: PoolCore<T>, marker: (...args: never[]) => unknown): Lease<T> | undefined {
  if (core.store.idle === 0 || core.queue.length > 0 || !core.sem.tryAcquire()) return undefined;
  for (let r = core.store.borrowIdleNow(); r !== undefined; r = core.store.borrowIdleNow()) {
    const valid = core.validate(r);
    if (valid === true) {
      // The leak-warning stack is taken only for a lease actually lent.
      return core.lend(r, core.cfg.leakTimeout === Infinity ? undefined : core.leakError(marker));
    }
    if (valid === false) continue; // destroyed by validate(); try the next idle one
    // An asynchronous validate cannot answer now: let it finish, then the resource and the slot go
    // back (to a queued caller first), as if it had never been borrowed.
    const resource = r;
    void valid.then((ok) => (ok ? core.putBack(resource) : core.releaseSlot()));
    return undefined;
  }
  core.releaseSlot();
  return undefined;
}

/** Holding a slot and an idle resource: lend it if it validates, else look further. */
function checkIdle<T>(
  core: PoolCore<T>,
  r: T,
  signal: AbortSignal | undefined,
  ms: number,
  deadline: number,
  origin: Error | undefined,
): Lease<T> | Promise<Lease<T>> {
  if (core.closing) {
    core.store.release(r);
    core.releaseSlot();
    throw core.closedError();
  }
  const valid = core.validate(r);
  if (valid === true) return core.lend(r, origin);
  if (valid === false) return withSlot(core, signal, ms, deadline, origin);
  return acquireSlow(core, signal, ms, deadline, origin, { resource: r, valid });
}

/** The rest under the deadline and the signal: async validation, creation (with retries). */
function acquireSlow<T>(
  core: PoolCore<T>,
  signal: AbortSignal | undefined,
  ms: number,
  deadline: number,
  origin: Error | undefined,
  first: Checked<T> | undefined,
): Promise<Lease<T>> {
  const left = deadline === Infinity ? Infinity : Math.max(0, deadline - Date.now());
  const acq: Acq<T> = new Acquisition<Lease<T>>(core.acqHost, signal, ms, left);
  acq.origin = origin;
  core.pending.add(acq);
  return acq.follow(obtain(core, acq, first));
}

/** Gets a resource for `acq`; owns the slot until it returns a lease (or gives the slot back). */
async function obtain<T>(core: PoolCore<T>, acq: Acq<T>, first: Checked<T> | undefined): Promise<Lease<T>> {
  try {
    if (first && (await first.valid)) return core.lend(first.resource, acq.origin);
    for (;;) {
      acq.signal.throwIfAborted();
      if (core.store.idle > 0) {
        const idle = core.store.borrowIdle();
        const r = idle instanceof Promise ? await idle : idle;
        const valid = core.validate(r);
        if (valid === true || (valid !== false && (await valid))) return core.lend(r, acq.origin);
        continue;
      }
      const fresh = await create(core, acq.signal, acq);
      return core.lend(await core.store.add(fresh), acq.origin);
    }
  } catch (err) {
    core.releaseSlot();
    throw err;
  }
}

/** Makes a resource, retrying with backoff; stops at once when `signal` aborts. */
async function create<T>(core: PoolCore<T>, signal: AbortSignal, acq: Acq<T> | undefined): Promise<T> {
  core.creating++;
  try {
    for (let attempt = 1; ; attempt++) {
      let r: T;
      try {
        r = await core.factory.create(signal);
      } catch (err) {
        core.createErrors++;
        if (acq) acq.lastError = err;
        signal.throwIfAborted();
        if (attempt >= core.cfg.createAttempts) throw err;
        await sleep(backoffDelay(attempt, core.cfg.createBackoff), { signal });
        continue;
      }
      core.live++;
      core.created++;
      core.emit('create', r);
      if (core.closing) {
        core.dispose(r, 'pool closed');
        throw core.closedError();
      }
      core.store.track(r);
      if (core.warmPaused && acq) {
        core.warmPaused = false; // the service is back: resume keeping `min` warm
        queueMicrotask(core.keepWarm);
      }
      return r;
    }
  } finally {
    core.creating--;
  }
}

/**
 * Keeps `min` resources made, each under a slot of its own so `max` holds.
 *
 * @example
 * ```ts
 * core.keepWarm = () => ensureMin(core);
 * ```
 */
export function ensureMin<T>(core: PoolCore<T>): void {
  while (
    !core.closing &&
    !core.warmPaused &&
    core.live + core.creating < core.cfg.min &&
    core.sem.tryAcquire()
  ) {
    void warmOne(core);
  }
}

async function warmOne<T>(core: PoolCore<T>): Promise<void> {
  let fresh: T;
  try {
    fresh = await core.store.add(await create(core, core.closeController.signal, undefined));
  } catch (err) {
    // Nobody waits for this one: report once and stop until an acquirer's create succeeds.
    if (!core.closing) {
      core.warmPaused = true;
      core.emitError(err);
    }
    core.releaseSlot();
    return;
  }
  core.putBack(fresh);
}

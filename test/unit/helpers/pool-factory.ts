/** A scriptable PoolFactory for the Pool tests: counts every call and tracks what is alive. */
import type { PoolFactory } from '../../../src/pool-options.js';

export interface Res {
  id: number;
  valid: boolean;
  clean: boolean;
}

export class FakeFactory implements PoolFactory<Res> {
  createCalls = 0;
  destroyCalls = 0;
  readonly live = new Set<Res>();
  readonly signals: AbortSignal[] = [];
  /** Return an error to make create number `n` (1-based) fail. */
  failCreate: (n: number) => Error | undefined = () => undefined;
  /** Milliseconds create takes (0: next microtask). */
  createDelay = 0;
  /** When true, create ignores its signal (a badly behaved driver). */
  ignoreSignal = false;
  /** When set, create never settles until `releaseHung()`. */
  hang = false;
  #hung: (() => void)[] = [];
  validateThrows = false;
  destroyThrows = false;
  validate?: (r: Res) => boolean | Promise<boolean>;
  reset?: (r: Res) => boolean | Promise<boolean>;

  constructor(opts: { validate?: boolean; reset?: boolean } = {}) {
    if (opts.validate) {
      this.validate = (r) => {
        if (this.validateThrows) throw new Error('validate blew up');
        return r.valid;
      };
    }
    if (opts.reset) this.reset = (r) => r.clean;
  }

  create = async (signal: AbortSignal): Promise<Res> => {
    const n = ++this.createCalls;
    this.signals.push(signal);
    if (this.hang) await new Promise<void>((resolve) => this.#hung.push(resolve));
    else if (this.createDelay > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, this.createDelay);
        if (!this.ignoreSignal) {
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(signal.reason);
          });
        }
      });
    }
    const err = this.failCreate(n);
    if (err) throw err;
    const r = { id: n, valid: true, clean: true };
    this.live.add(r);
    return r;
  };

  destroy = async (r: Res): Promise<void> => {
    this.destroyCalls++;
    if (!this.live.delete(r)) throw new Error(`double destroy of ${r.id}`);
    if (this.destroyThrows) throw new Error('destroy blew up');
  };

  releaseHung(): void {
    for (const resolve of this.#hung.splice(0)) resolve();
  }
}

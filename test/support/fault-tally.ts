/**
 * Bookkeeping for fault tests: operations attempted, how each settled (by error class), how long
 * each took against its own timeout, faults injected — and one report line per scenario
 * (`[faults] <scenario> {json}`) whose figures RELIABILITY.md quotes.
 */

/** `TimeoutError`, `ConnectionError(CONNECTION)`, `DatabaseError(57014)` … */
export function errorClass(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' || typeof code === 'number' ? `${err.name}(${code})` : err.name;
  }
  return `non-Error ${typeof err}`;
}

export class FaultTally {
  readonly scenario: string;
  attempted = 0;
  succeeded = 0;
  readonly failures = new Map<string, number>();
  readonly faults = new Map<string, number>();
  /** Operations still unsettled. */
  pending = 0;
  /** Worst settle time minus the operation's timeout (ms); ≤ 0 means every op settled in time. */
  worstOverrun = -Infinity;
  /** Longest settle time seen (ms). */
  longest = 0;
  readonly extra: Record<string, unknown> = {};

  constructor(scenario: string) {
    this.scenario = scenario;
  }

  /** Counts one operation; resolves with its value, or `undefined` when it failed (failure recorded). */
  async track<T>(
    timeout: number,
    op: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    this.attempted++;
    this.pending++;
    const started = performance.now();
    try {
      const value = await op();
      this.succeeded++;
      return { ok: true, value };
    } catch (error) {
      const key = errorClass(error);
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      return { ok: false, error };
    } finally {
      this.pending--;
      const took = performance.now() - started;
      this.longest = Math.max(this.longest, took);
      this.worstOverrun = Math.max(this.worstOverrun, took - timeout);
    }
  }

  /** Counts an injected fault. */
  fault(kind: string, n = 1): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + n);
  }

  get failed(): number {
    let n = 0;
    for (const v of this.failures.values()) n += v;
    return n;
  }

  summary(): Record<string, unknown> {
    const ops =
      this.attempted === 0
        ? {}
        : {
            attempted: this.attempted,
            succeeded: this.succeeded,
            failed: Object.fromEntries(this.failures),
            longestMs: Math.round(this.longest),
            worstOverrunMs: Math.round(this.worstOverrun),
          };
    return { faults: Object.fromEntries(this.faults), ...ops, ...this.extra };
  }

  /** Prints the report line. */
  report(): void {
    console.log(`[faults] ${this.scenario} ${JSON.stringify(this.summary())}`);
  }
}

/** Rejects with a clear message when `p` does not settle within `ms` (a hang, not a slow op). */
export function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

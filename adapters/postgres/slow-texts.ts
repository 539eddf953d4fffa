/**
 * {@link SlowTexts}: statement texts that recently stalled a pipelined connection. A statement moved
 * off a stalled connection (it ran past `stallAfter` with others waiting behind it, and was still
 * running when the cancel landed) is likely followed by more like it — a report, a statement that
 * waits for a hot row's lock — and each would stall a connection again before being moved; so the
 * next runs of its text go straight to a dedicated connection. Every `SLOW_TEXT_RUNS`-th run probes
 * the pipeline again, so a fast text found slow by bad luck (the server descheduled for a moment)
 * loses the pipeline for a few runs only.
 * @module
 */

/** Runs of a text found slow that skip the pipeline before the next one probes it again. */
const SLOW_TEXT_RUNS = 64;
/** Texts remembered at most (a bound, not a tuning knob: a workload has few slow texts). */
const MAX_TEXTS = 256;

/**
 * The texts that skip the pipeline for now.
 *
 * @example
 * ```ts
 * const slow = new SlowTexts();
 * slow.add('select * from report($1)');
 * if (slow.size > 0 && slow.skips(input.text)) return pool.run(input, limits);
 * ```
 */
export class SlowTexts {
  /** Text → runs left before one probes the pipeline again. */
  readonly #runsLeft = new Map<string, number>();

  /** Texts remembered (check this before {@link skips}: the common case is none). */
  get size(): number {
    return this.#runsLeft.size;
  }

  /** A statement with this text had to be moved off a stalled connection. */
  add(text: string): void {
    if (this.#runsLeft.size >= MAX_TEXTS) this.#runsLeft.clear();
    this.#runsLeft.set(text, SLOW_TEXT_RUNS);
  }

  /** True when a statement with this text should skip the pipeline (counts it as one run). */
  skips(text: string): boolean {
    const left = this.#runsLeft.get(text);
    if (left === undefined) return false;
    if (left > 1) {
      this.#runsLeft.set(text, left - 1);
      return true;
    }
    this.#runsLeft.delete(text); // this one probes the pipeline again
    return false;
  }
}

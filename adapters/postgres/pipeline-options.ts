/**
 * The `pipeline` option of `Database` ({@link PipelineOptions}) and {@link readPipelineOptions},
 * which validates it once into the {@link PipelineLimits} every server's pipeline group is built with.
 * @module
 */
import { checkDuration, checkInteger, describeValue } from '../../src/internal/index.js';
import type { PipelineLimits } from './pipeline-slots.js';

/**
 * Pipeline mode (on by default): standalone statements in flight by the dozen on each of a few
 * shared connections, with guards that send a statement to a dedicated pooled connection instead
 * when pipelining it would make it wait.
 *
 * @example
 * ```ts
 * new Database({ url, pipeline: { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true } });
 * ```
 */
export interface PipelineOptions {
  /** Shared pipelined connections, on top of the pool's `max` (1–64), per server (primary, each replica). @default 2 */
  connections?: number | undefined;
  /**
   * Statements in flight on one pipelined connection at most (1–65 536); a statement that finds
   * every pipelined connection this full runs on a dedicated pooled connection. @default 128
   */
  maxDepth?: number | undefined;
  /**
   * Head-of-line protection, in ms: a pipelined connection whose oldest statement has been running
   * longer than this takes no new statements (they would wait behind it) until it finishes; they go
   * to another pipelined connection, or to a dedicated pooled one. Any duration ≥ 0 (`Infinity`:
   * never). @default 10
   */
  stallAfter?: number | undefined;
  /**
   * Run statements with parameters as prepared statements on the pipelined connections (each text
   * parsed and planned once per connection, up to 256 texts): for small statements most of the
   * server's work. A text is prepared afresh when a schema change makes its prepared statement
   * unusable; `false` for a pooler that keeps no prepared statements (PgBouncer in transaction mode
   * before 1.21 — connkit also stops by itself after a few statements it finds gone). @default true
   */
  prepare?: boolean | undefined;
}

/** Defaults of {@link PipelineOptions}. */
const PIPELINE_DEFAULTS = { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true } as const;

/**
 * Validates the `pipeline` option (TypeError/RangeError quoting the bad value); undefined = off.
 *
 * @example
 * ```ts
 * readPipelineOptions(undefined); // { connections: 2, maxDepth: 128, stallAfter: 10, prepare: true }
 * readPipelineOptions(false); // undefined
 * ```
 */
export function readPipelineOptions(opt: false | PipelineOptions | undefined): PipelineLimits | undefined {
  if (opt === false) return undefined;
  if (opt !== undefined && (typeof opt !== 'object' || opt === null)) {
    throw new TypeError(
      `pipeline must be false or { connections, maxDepth, stallAfter, prepare }, got ${describeValue(opt)}`,
    );
  }
  const d = PIPELINE_DEFAULTS;
  return {
    connections: checkInteger(opt?.connections, 'pipeline.connections', d.connections, 1, 64),
    maxDepth: checkInteger(opt?.maxDepth, 'pipeline.maxDepth', d.maxDepth, 1, 65_536),
    stallAfter: checkDuration(opt?.stallAfter, 'pipeline.stallAfter', d.stallAfter),
    prepare: checkBoolean(opt?.prepare, 'pipeline.prepare', d.prepare),
  };
}

function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

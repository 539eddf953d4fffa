/**
 * Internal: connkit's version, as its tracer and meter announce it (`instrumentation.scope.version`).
 * A unit test keeps it equal to package.json's `version`: the built code cannot read package.json
 * by one relative path (it sits one level deeper under `dist/`).
 * @module
 */

/**
 * The version of the connkit package.
 *
 * @example
 * ```ts
 * api.trace.getTracer('connkit', VERSION);
 * ```
 */
export const VERSION = '0.1.0';

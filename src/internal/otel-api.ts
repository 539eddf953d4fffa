/**
 * Internal: `@opentelemetry/api`, loaded only if the application installed it (an optional peer
 * dependency). Loaded on first use, never at import, so an application without it loads nothing and
 * pays nothing.
 *
 * Why `createRequire` and not a top-level `await import()`:
 * - a module with top-level `await` cannot be `require()`d (Node's require(esm) refuses an async
 *   graph with ERR_REQUIRE_ASYNC_MODULE), and connkit is loadable from CommonJS;
 * - the answer is needed synchronously, in the hot path that first asks (a pool acquire, a query);
 *   an `import()` would leave the first operations untraced and force every caller to await;
 * - which build is loaded does not matter: Node resolves both `import` and `require` of the API to
 *   its CommonJS build (its `module` condition is for bundlers), and every build and copy of the API
 *   keeps what an SDK registers (tracer, meter and propagator providers, context manager) on one
 *   global (`Symbol.for('opentelemetry.js.api.1')`), so the SDK an application registered through
 *   `import` is the one connkit sees.
 *
 * This file is not re-exported by the seam: its types name `@opentelemetry/api`, which the
 * declarations users compile against must not (the package is optional).
 * @module
 */
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';
import type { Tracer, TracerProvider } from '@opentelemetry/api';
import { VERSION } from './version.js';

/** The `@opentelemetry/api` module. */
export type OtelApi = typeof Api;

/** `undefined`: not tried yet; `null`: not installed (or failed to load). */
let loaded: OtelApi | null | undefined;

/**
 * The OpenTelemetry API, or `undefined` when the application did not install it. The first call
 * resolves it from connkit's own location (where a peer dependency lives); later calls return the
 * same answer.
 *
 * @example
 * ```ts
 * const api = otelApi();
 * if (api !== undefined) api.trace.getTracer('connkit', VERSION);
 * ```
 */
export function otelApi(): OtelApi | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

/**
 * Tests only: pretend the API is installed (`api`) or absent (`null`); `undefined` resolves it again.
 *
 * @example
 * ```ts
 * setOtelApiForTests(null); // connkit behaves as without @opentelemetry/api
 * ```
 */
export function setOtelApiForTests(api: OtelApi | null | undefined): void {
  loaded = api;
}

function load(): OtelApi | null {
  const require = createRequire(import.meta.url);
  try {
    return require('@opentelemetry/api') as OtelApi;
  } catch (err) {
    // Not installed is the normal case. Anything else (a broken install) must not break the kit:
    // say so once, then run without telemetry.
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') {
      process.emitWarning(`connkit: @opentelemetry/api failed to load, telemetry is off: ${String(err)}`);
    }
    return null;
  }
}

let seenProvider: TracerProvider | undefined;
let seenTracer: Tracer | undefined;
let noopProvider: TracerProvider | undefined;

/**
 * connkit's tracer (`connkit`, with the package version) from the registered SDK, or `undefined` when
 * none is registered — a few property reads, so callers ask per operation. The tracer is kept per
 * provider, so a provider registered (or replaced) later is picked up.
 *
 * @example
 * ```ts
 * const tracer = api === undefined ? undefined : connkitTracer(api);
 * ```
 */
export function connkitTracer(api: OtelApi): Tracer | undefined {
  let provider = api.trace.getTracerProvider();
  if (provider instanceof api.ProxyTracerProvider) {
    provider = provider.getDelegate();
    // A fresh proxy's delegate is the API's own no-op provider: nothing registered.
    noopProvider ??= new api.ProxyTracerProvider().getDelegate();
    if (provider === noopProvider) return undefined;
  }
  if (provider !== seenProvider) {
    seenProvider = provider;
    seenTracer = provider.getTracer('connkit', VERSION);
  }
  return seenTracer;
}

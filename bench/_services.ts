/**
 * The PostgreSQL and RabbitMQ of the bench suites, found by the resolution the tests and the demo
 * use (`test/support/service-resolution.ts`: env URLs, then Docker, then the standard local ports),
 * once per `npm run bench` and only when a suite needs them — a run of `primitives` or `pool`
 * resolves nothing.
 * @module
 */
import { resolveServices, type ResolvedServices } from '../test/support/service-resolution.js';

let resolving: Promise<ResolvedServices> | undefined;

/**
 * The services of this run, resolved on first call (progress line on stderr).
 *
 * @example
 * ```ts
 * export const DATABASE_URL = (await benchServices()).databaseUrl;
 * ```
 */
export function benchServices(): Promise<ResolvedServices> {
  resolving ??= resolveServices({ log: (line) => void process.stderr.write(`[services] ${line}\n`) });
  return resolving;
}

/**
 * Stops what the resolution started (containers under Docker); a no-op when nothing was resolved.
 *
 * @example
 * ```ts
 * try { await runSuites(); } finally { await stopBenchServices(); }
 * ```
 */
export async function stopBenchServices(): Promise<void> {
  const started = resolving;
  resolving = undefined;
  const services = await started?.catch(() => undefined);
  await services?.stop();
}

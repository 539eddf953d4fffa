/**
 * What the cluster project's global setup hands to its test files (through vitest `provide`):
 * a plain, serialisable description from which a worker rebuilds the control object.
 */

/** Nodes in the test cluster. */
export const CLUSTER_SIZE = 3;

/**
 * The three ways a test run can have a cluster.
 * - `local`: nodes of the installed `rabbitmq-server`, started by the harness itself, all state
 *   under `dir`; node names start with `prefix` (unique per run: one epmd namespace per host).
 * - `external`: `AMQP_CLUSTER_URLS` points at a running cluster (e.g. the compose profile); no
 *   node control.
 * - `unavailable`: neither; cluster tests skip and print `reason`.
 *
 * @example
 * ```ts
 * const d: ClusterDescriptor = { kind: 'external', urls: ['amqp://guest:guest@localhost:5681'] };
 * ```
 */
export type ClusterDescriptor =
  | { kind: 'local'; dir: string; prefix: string; scriptsDir: string; epmd: string }
  | { kind: 'external'; urls: string[] }
  | { kind: 'unavailable'; reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    rabbitCluster: ClusterDescriptor;
  }
}

/**
 * Parses `AMQP_CLUSTER_URLS` (comma-separated, node order); undefined when unset or empty.
 *
 * @example
 * ```ts
 * parseClusterUrls('amqp://a:5681, amqp://a:5682'); // ['amqp://a:5681', 'amqp://a:5682']
 * ```
 */
export function parseClusterUrls(value: string | undefined): string[] | undefined {
  const urls = (value ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  for (const url of urls) {
    if (!/^amqps?:\/\//.test(url))
      throw new RangeError(`AMQP_CLUSTER_URLS: not an AMQP URL: ${JSON.stringify(url)}`);
  }
  return urls.length > 0 ? urls : undefined;
}

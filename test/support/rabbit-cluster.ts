/**
 * A real 3-node RabbitMQ cluster for the `cluster` test project (see rabbit-cluster/README.md).
 *
 * The project's global setup (`rabbit-cluster/global-setup.ts`) provides a descriptor; a test
 * file rebuilds the control object with {@link rabbitCluster} and calls `ensureAllRunning()` in
 * `beforeAll` (the first file boots the nodes, later ones heal what an earlier file left broken).
 *
 * @example
 * ```ts
 * const skip = clusterSkipReason({ control: true });
 * describe.skipIf(skip)('Broker on a cluster', () => {
 *   const cluster = rabbitCluster();
 *   beforeAll(() => cluster.ensureAllRunning(), 240_000);
 *   it('fails over', async () => { await cluster.kill(0); … });
 * });
 * ```
 */
import { inject } from 'vitest';
import { RabbitCluster } from './rabbit-cluster/cluster.js';

export { ClusterControlUnavailableError, RabbitCluster } from './rabbit-cluster/cluster.js';
export type { ClusterStatus, QueueRow } from './rabbit-cluster/cluster.js';
export type { ClusterDescriptor } from './rabbit-cluster/descriptor.js';

let cached: RabbitCluster | undefined;

/**
 * The run's cluster, rebuilt in this worker from the global setup's descriptor. Throws
 * `ClusterControlUnavailableError` when there is none (check {@link clusterSkipReason} first).
 *
 * @example
 * ```ts
 * const cluster = rabbitCluster();
 * await cluster.ensureAllRunning();
 * const [url1, , url3] = cluster.urls;
 * ```
 */
export function rabbitCluster(): RabbitCluster {
  cached ??= new RabbitCluster(inject('rabbitCluster'));
  return cached;
}

/**
 * Why this run's cluster tests (or, with `control: true`, those that kill/stop/pause nodes)
 * cannot run, also printed as a `[cluster] skipped:` line; undefined when they can. The one
 * sanctioned skip: no local `rabbitmq-server` and no `AMQP_CLUSTER_URLS`.
 *
 * @example
 * ```ts
 * describe.skipIf(clusterSkipReason({ control: true }))('node loss', () => { … });
 * ```
 */
export function clusterSkipReason(opts: { control?: boolean } = {}): string | undefined {
  const d = inject('rabbitCluster');
  let reason: string | undefined;
  if (d.kind === 'unavailable') reason = d.reason;
  else if (opts.control && d.kind === 'external') {
    reason =
      'these tests kill, stop or pause nodes: that needs the local rabbitmq-server, and AMQP_CLUSTER_URLS names a cluster the harness does not run';
  }
  if (reason !== undefined) console.log(`[cluster] skipped: ${reason}`);
  return reason;
}

/**
 * Vitest global setup of the `cluster` project: decides where the cluster comes from and hands a
 * serialisable {@link ClusterDescriptor} to the test files (`provide('rabbitCluster', …)`); its
 * teardown stops every node by pid and removes the run's directory.
 *
 * It does not boot the nodes: vitest runs every selected project's global setup before the first
 * test of the run, so `npm test` would wait ≈ 25 s for the cluster before the unit tests and keep
 * three nodes busy through the integration tests. The first cluster file's
 * `cluster.ensureAllRunning()` boots them instead, when the cluster group's turn comes. (Vitest
 * 4 runs no global setup of a project none of whose files is selected, so e.g.
 * `npm run test:unit` does not even get here.)
 */
import type { TestProject } from 'vitest/node';
import { parseClusterUrls, type ClusterDescriptor } from './descriptor.js';
import { findRabbitInstall } from './install.js';
import { CLUSTER_DIR_PREFIX, planLocalCluster } from './plan.js';
import { destroyLocalCluster, killLocalProcessesSync, reapAbandonedClusters } from './teardown.js';

const COMPOSE_HINT =
  'start one with `docker compose --profile cluster up -d --wait rabbit-1 rabbit-2 rabbit-3` and set ' +
  'AMQP_CLUSTER_URLS=amqp://guest:guest@localhost:5681,amqp://guest:guest@localhost:5682,amqp://guest:guest@localhost:5683';

function describeCluster(): ClusterDescriptor {
  const urls = parseClusterUrls(process.env['AMQP_CLUSTER_URLS']);
  if (urls !== undefined) return { kind: 'external', urls };
  const install = findRabbitInstall();
  if ('missing' in install) {
    return {
      kind: 'unavailable',
      reason: `no RabbitMQ cluster: ${install.missing}, and AMQP_CLUSTER_URLS is not set; ${COMPOSE_HINT}`,
    };
  }
  return planLocalCluster(install);
}

/**
 * Vitest global setup (see the module comment).
 *
 * @example
 * ```ts
 * // vitest.config.ts, project `cluster`:
 * globalSetup: ['test/support/rabbit-cluster/global-setup.ts']
 * ```
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const log = (line: string): void => console.log(`[cluster] ${line}`);
  await reapAbandonedClusters(CLUSTER_DIR_PREFIX, log);
  const descriptor = describeCluster();
  project.provide('rabbitCluster', descriptor);
  if (descriptor.kind === 'external')
    log(`using AMQP_CLUSTER_URLS (no node control): ${descriptor.urls.join(' ')}`);
  if (descriptor.kind === 'unavailable') log(descriptor.reason);
  if (descriptor.kind !== 'local') return undefined;
  log(
    `nodes ${descriptor.prefix}-rabbit-{1,2,3}@localhost, files in ${descriptor.dir} (booted by the first cluster file)`,
  );
  // Ctrl-C ends vitest without global teardowns; the nodes are detached and would live on.
  const onExit = (): void => killLocalProcessesSync(descriptor);
  process.once('exit', onExit);
  return async () => {
    process.off('exit', onExit);
    await destroyLocalCluster(descriptor, log);
  };
}

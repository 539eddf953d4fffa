/**
 * A boot that fails halfway must not leave a node behind: bootCluster() stops every process it
 * started (SIGTERM, SIGKILL after a grace period) and clears the node directories. Uses a
 * cluster of its own (own directory and node names), not the run's.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterSkipReason } from '../support/rabbit-cluster.js';
import { bootCluster } from '../support/rabbit-cluster/boot.js';
import { findRabbitInstall } from '../support/rabbit-cluster/install.js';
import { epmdPidFile, nodeLayout, readState } from '../support/rabbit-cluster/layout.js';
import { planLocalCluster } from '../support/rabbit-cluster/plan.js';
import { isAlive, markedProcesses, readPid } from '../support/rabbit-cluster/processes.js';
import { destroyLocalCluster } from '../support/rabbit-cluster/teardown.js';
import { until } from '../support/async.js';

describe.skipIf(clusterSkipReason({ control: true }))('bootCluster()', () => {
  it('aborted while node 2 boots stops epmd, node 1 and node 2 and clears the node directories', async () => {
    const install = findRabbitInstall();
    if ('missing' in install) throw new Error(install.missing);
    const d = planLocalCluster(install);
    const mark = `${d.dir}${path.sep}`;
    try {
      const controller = new AbortController();
      const boot = bootCluster(d, { signal: controller.signal });
      await until(async () => existsSync(nodeLayout(d, 1).launcherPidFile), 120_000, 'node 2 to be launched');
      const node1 = readPid(nodeLayout(d, 0).pidFile)!;
      const started = markedProcesses(mark);
      expect(started).toContain(node1);
      expect(started).toContain(readPid(nodeLayout(d, 1).launcherPidFile));
      expect(started).toContain(readPid(epmdPidFile(d)));

      controller.abort(new Error('test abort'));
      await expect(boot).rejects.toThrow('test abort');
      expect(started.filter(isAlive)).toEqual([]);
      expect(markedProcesses(mark)).toEqual([]);
      expect(existsSync(nodeLayout(d, 0).dir)).toBe(false);
      expect(readState(d)).toBeUndefined();
    } finally {
      await destroyLocalCluster(d, () => undefined);
    }
    expect(existsSync(d.dir)).toBe(false);
  });
});

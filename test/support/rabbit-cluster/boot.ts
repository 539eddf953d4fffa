/**
 * The first start of a local cluster: free ports, config files, our epmd, node 1, then nodes 2
 * and 3 each started and joined to node 1 (`stop_app`, `join_cluster`, `start_app`).
 *
 * One node after the other: on 2 cores three nodes booting at once take longer (≈ 31 s measured)
 * than in turn (13–27 s here, with the joins). A boot that fails halfway stops what it started and clears the node
 * directories, so the next attempt starts clean.
 */
import { rmSync } from 'node:fs';
import type { WaitOptions } from '../../../src/index.js';
import { runCli } from './cli.js';
import { startDeadline } from './deadline.js';
import { CLUSTER_SIZE } from './descriptor.js';
import {
  allNodes,
  nodeLayout,
  removeState,
  writeClusterFiles,
  writeState,
  type ClusterPorts,
  type LocalDescriptor,
} from './layout.js';
import { startEpmd, startNode } from './node-process.js';
import { chooseClusterPorts } from './ports.js';
import { stopLocalProcesses } from './teardown.js';

/** Default deadline of a whole boot (measured 13–27 s on a shared 2-core machine). */
export const BOOT_TIMEOUT = 240_000;

async function bootSteps(d: LocalDescriptor, ports: ClusterPorts, signal: AbortSignal): Promise<void> {
  await startEpmd(d, ports, { signal });
  await startNode(d, ports, 0, { signal });
  const first = nodeLayout(d, 0).name;
  for (let i = 1; i < CLUSTER_SIZE; i += 1) {
    await startNode(d, ports, i, { signal });
    for (const args of [['stop_app'], ['join_cluster', first], ['start_app']]) {
      await runCli(d, ports, i, 'rabbitmqctl', args, { signal });
    }
  }
}

/** Stops whatever a boot attempt started and removes its node directories and state. */
async function clearAttempt(d: LocalDescriptor): Promise<void> {
  await stopLocalProcesses(d, 2_000);
  for (const node of allNodes(d)) rmSync(node.dir, { recursive: true, force: true });
  removeState(d);
}

/**
 * Boots the cluster described by `d` and records it as booted; resolves with its ports.
 *
 * @example
 * ```ts
 * const ports = await bootCluster(d, { timeout: 120_000 });
 * ```
 */
export async function bootCluster(d: LocalDescriptor, opts: WaitOptions = {}): Promise<ClusterPorts> {
  // Leftovers of an attempt whose worker died mid-boot (no cleanup ran) would share our node names.
  await clearAttempt(d);
  const ports = await chooseClusterPorts();
  writeState(d, { ports, booted: false });
  writeClusterFiles(d, ports);
  const deadline = startDeadline(opts, BOOT_TIMEOUT, 'cluster boot');
  try {
    await bootSteps(d, ports, deadline.signal);
  } catch (err) {
    await clearAttempt(d);
    throw err;
  } finally {
    deadline.clear();
  }
  writeState(d, { ports, booted: true });
  return ports;
}

/**
 * Cluster membership as the nodes themselves report it (`rabbitmqctl cluster_status`), the waits
 * that turn "the VM runs" into "the node is a working cluster member again", and healing a
 * cluster an earlier test file left broken.
 */
import { sleep } from '../../../src/index.js';
import type { WaitOptions } from '../../../src/index.js';
import { runCli } from './cli.js';
import { startDeadline } from './deadline.js';
import { allNodes, type ClusterPorts, type LocalDescriptor } from './layout.js';
import { startNode } from './node-process.js';
import { isAlive, readPid, signalPid } from './processes.js';
import { portAnswers } from '../net.js';

/** How long healing may take by default (a restart: measured 5–7 s; slower on a busy machine). */
export const HEAL_TIMEOUT = 120_000;

/**
 * The parts of `rabbitmqctl cluster_status --formatter json` the harness reads.
 *
 * @example
 * ```ts
 * const { running_nodes } = await clusterStatus(d, ports, 0);
 * ```
 */
export interface ClusterStatus {
  disk_nodes: string[];
  running_nodes: string[];
  partitions: Record<string, string[]>;
  [key: string]: unknown;
}

/**
 * `cluster_status` as node `index` sees it.
 *
 * @example
 * ```ts
 * (await clusterStatus(d, ports, 1)).running_nodes; // ['ck…-rabbit-3@localhost', …]
 * ```
 */
export async function clusterStatus(
  d: LocalDescriptor,
  ports: ClusterPorts,
  index: number,
  opts: WaitOptions = {},
): Promise<ClusterStatus> {
  const out = await runCli(d, ports, index, 'rabbitmqctl', ['cluster_status', '--formatter', 'json'], opts);
  return JSON.parse(out) as ClusterStatus;
}

/**
 * Resolves once node `index` runs and sees at least one of the nodes `up` (the others whose VM
 * runs unpaused) as running with it — after a restart it has rejoined.
 *
 * @example
 * ```ts
 * await waitMember(d, ports, 0, [1, 2], signal);
 * ```
 */
export async function waitMember(
  d: LocalDescriptor,
  ports: ClusterPorts,
  index: number,
  up: number[],
  signal: AbortSignal,
): Promise<void> {
  const names = allNodes(d).map((n) => n.name);
  for (;;) {
    const running =
      (await clusterStatus(d, ports, index, { signal }).catch(() => undefined))?.running_nodes ?? [];
    if (running.includes(names[index]!) && (up.length === 0 || up.some((j) => running.includes(names[j]!))))
      return;
    await sleep(250, { signal });
  }
}

/**
 * Resolves once every node reports all nodes running and no partition. A node whose VM runs with
 * its app stopped (`stop_app`) gets one `start_app` (idempotent) on the way.
 *
 * @example
 * ```ts
 * await waitClustered(d, ports, signal);
 * ```
 */
export async function waitClustered(
  d: LocalDescriptor,
  ports: ClusterPorts,
  signal: AbortSignal,
): Promise<void> {
  const names = allNodes(d).map((n) => n.name);
  let appsStarted = false;
  for (;;) {
    const statuses = await Promise.all(
      names.map((_, i) => clusterStatus(d, ports, i, { signal }).catch(() => undefined)),
    );
    const healthy = statuses.every(
      (s) =>
        s !== undefined &&
        names.every((n) => s.running_nodes.includes(n)) &&
        Object.keys(s.partitions).length === 0,
    );
    if (healthy) return;
    if (!appsStarted) {
      appsStarted = true;
      const stopped = names.flatMap((n, i) => (statuses[i]?.running_nodes.includes(n) ? [] : [i]));
      const startApp = (i: number): Promise<unknown> =>
        runCli(d, ports, i, 'rabbitmqctl', ['start_app'], { signal }).catch(() => undefined);
      await Promise.all(stopped.map(startApp));
      continue;
    }
    await sleep(250, { signal });
  }
}

/**
 * Brings a booted cluster back to health: SIGCONT to every VM (a paused one wakes), starts the
 * nodes whose VM is gone (together — a node that went down first waits for the others), then
 * {@link waitClustered} (which also restarts stopped apps).
 *
 * @example
 * ```ts
 * await healCluster(d, ports, { timeout: 60_000 });
 * ```
 */
export async function healCluster(
  d: LocalDescriptor,
  ports: ClusterPorts,
  opts: WaitOptions = {},
): Promise<void> {
  const deadline = startDeadline(opts, HEAL_TIMEOUT, 'ensureAllRunning()');
  try {
    const down: number[] = [];
    for (const node of allNodes(d)) {
      const pid = readPid(node.pidFile);
      if (pid !== undefined && isAlive(pid)) signalPid(pid, 'SIGCONT');
      else down.push(node.index);
    }
    await Promise.all(down.map((i) => startNode(d, ports, i, { signal: deadline.signal })));
    await waitClustered(d, ports, deadline.signal);
  } finally {
    deadline.clear();
  }
}

/**
 * Rejects unless every URL's host and port accept TCP connections (an external cluster, which
 * the harness cannot heal, only check).
 *
 * @example
 * ```ts
 * await checkUrlsAnswer(['amqp://guest:guest@localhost:5681']);
 * ```
 */
export async function checkUrlsAnswer(urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    const { hostname, port } = new URL(url);
    if (!(await portAnswers(hostname, Number(port || 5672), 5_000))) {
      throw new Error(`AMQP_CLUSTER_URLS: nothing answers at ${hostname}:${port || 5672}`);
    }
  }
}

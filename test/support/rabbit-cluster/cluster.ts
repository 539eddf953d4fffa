/**
 * {@link RabbitCluster}: the control object test files use — URLs and node names in node order,
 * and node faults (kill, graceful stop, restart, pause) of a local cluster.
 *
 * Rebuilt in each vitest worker from the serialisable descriptor the global setup provides; all
 * state lives in the run's directory (pid files, `state.json`), so any worker can act on nodes
 * another worker started.
 */
import path from 'node:path';
import { sleep } from '../../../src/index.js';
import type { WaitOptions } from '../../../src/index.js';
import { bootCluster } from './boot.js';
import { CLI_TIMEOUT, runCli } from './cli.js';
import { startDeadline } from './deadline.js';
import { CLUSTER_SIZE, type ClusterDescriptor } from './descriptor.js';
import { allNodes, nodeLayout, readState, type ClusterPorts, type LocalDescriptor } from './layout.js';
import { checkUrlsAnswer, clusterStatus, healCluster, waitMember, type ClusterStatus } from './membership.js';
import { startNode } from './node-process.js';
import { isAlive, isPaused, markedProcesses, readPid, signalPid, waitGone } from './processes.js';

export type { ClusterStatus } from './membership.js';

/**
 * Node control asked of a cluster the harness does not run (`AMQP_CLUSTER_URLS`), or a cluster
 * asked of a run that has none.
 *
 * @example
 * ```ts
 * expect(() => external.kill(0)).toThrow(ClusterControlUnavailableError);
 * ```
 */
export class ClusterControlUnavailableError extends Error {
  override name = 'ClusterControlUnavailableError';
}

/**
 * One row of `rabbitmqctl list_queues` (default columns `name type members leader messages`;
 * other columns requested are there under their own names).
 *
 * @example
 * ```ts
 * const row: QueueRow | undefined = (await cluster.queues()).find((r) => r.name === 'orders');
 * ```
 */
export interface QueueRow {
  name: string;
  type: string;
  members: string[];
  leader: string;
  messages: number;
  [column: string]: unknown;
}

/** How long a node restart may take by default (measured 5–7 s; slower on a busy machine). */
const START_TIMEOUT = 120_000;

/**
 * The test cluster: three RabbitMQ nodes, their AMQP URLs in node order, and fault control.
 *
 * @example
 * ```ts
 * const cluster = rabbitCluster(); // from test/support/rabbit-cluster.ts
 * await cluster.ensureAllRunning();
 * await cluster.kill(0); // SIGKILL of node 1's VM
 * await cluster.start(0); // back, and a cluster member again
 * ```
 */
export class RabbitCluster {
  readonly #d: Exclude<ClusterDescriptor, { kind: 'unavailable' }>;
  #ports: ClusterPorts | undefined;

  constructor(descriptor: ClusterDescriptor) {
    if (descriptor.kind === 'unavailable') throw new ClusterControlUnavailableError(descriptor.reason);
    this.#d = descriptor;
  }

  /** True when the harness runs the nodes itself (kill/stop/start/pause/ctl work). */
  get canControl(): boolean {
    return this.#d.kind === 'local';
  }

  /** Number of nodes. */
  get size(): number {
    return this.#d.kind === 'local' ? CLUSTER_SIZE : this.#d.urls.length;
  }

  /** AMQP URLs in node order (local: after the first {@link ensureAllRunning}). */
  get urls(): string[] {
    if (this.#d.kind === 'external') return [...this.#d.urls];
    return this.#localPorts().amqp.map((port) => `amqp://guest:guest@127.0.0.1:${port}`);
  }

  /** Erlang node names in node order, e.g. `ck1a2b3c-rabbit-1@localhost` (local only). */
  get nodes(): string[] {
    return allNodes(this.#local()).map((n) => n.name);
  }

  /** The pid of node `i`'s Erlang VM (from its pid file), or undefined when it does not run. */
  beamPid(i: number): number | undefined {
    const pid = readPid(nodeLayout(this.#local(), this.#index(i)).pidFile);
    return pid !== undefined && isAlive(pid) ? pid : undefined;
  }

  /**
   * Makes sure all nodes run and form one cluster, booting it on first use: paused nodes are
   * resumed, stopped or killed ones started (together — a node that went down first waits for
   * the others), nodes with a stopped app get `start_app`. Call it in each file's `beforeAll`.
   * External clusters: checks every URL's port answers.
   */
  async ensureAllRunning(opts: WaitOptions = {}): Promise<void> {
    if (this.#d.kind === 'external') return checkUrlsAnswer(this.#d.urls);
    const d = this.#d;
    if (readState(d)?.booted) return healCluster(d, this.#localPorts(), opts);
    const started = Date.now();
    this.#ports = await bootCluster(d, opts);
    console.log(
      `[cluster] booted ${this.nodes.join(', ')} in ${Date.now() - started} ms: ${this.urls.join(' ')}`,
    );
  }

  /** SIGKILL of node `i`'s VM (the pid in its pid file); resolves once it is gone. */
  kill(i: number): Promise<void> {
    return this.#onNode(i, async () => {
      const pid = this.#runningPid(i, 'kill');
      signalPid(pid, 'SIGKILL');
      if (!(await waitGone([pid], 10_000))) {
        throw new Error(`node ${this.nodes[i]} (pid ${pid}) survived SIGKILL`);
      }
    });
  }

  /** Graceful stop of node `i` (`rabbitmqctl stop <pidfile>`: closes connections, ends the VM). */
  stop(i: number, opts: WaitOptions = {}): Promise<void> {
    return this.#onNode(i, async (d) => {
      const pid = this.#runningPid(i, 'stop');
      // A paused VM would never answer the CLI.
      signalPid(pid, 'SIGCONT');
      await runCli(d, this.#localPorts(), i, 'rabbitmqctl', ['stop', nodeLayout(d, i).pidFile], opts);
      await waitGone([pid], 10_000);
    });
  }

  /** `rabbitmqctl stop_app` on node `i`: the VM stays, its RabbitMQ application stops. */
  stopApp(i: number, opts: WaitOptions = {}): Promise<void> {
    return this.#onNode(i, async (d) => {
      signalPid(this.#runningPid(i, 'stopApp'), 'SIGCONT');
      await runCli(d, this.#localPorts(), i, 'rabbitmqctl', ['stop_app'], opts);
    });
  }

  /**
   * Brings node `i` back with the same config and data after kill/stop/stopApp/pause, and
   * resolves once it runs and is a cluster member again (it rejoins by itself). When every node
   * is down, start them together (`Promise.all`) or use {@link ensureAllRunning}: the node that
   * went down first waits for the others.
   */
  start(i: number, opts: WaitOptions = {}): Promise<void> {
    return this.#onNode(i, (d) => this.#start(d, i, opts));
  }

  async #start(d: LocalDescriptor, i: number, opts: WaitOptions): Promise<void> {
    const deadline = startDeadline(opts, START_TIMEOUT, `start(${i})`);
    try {
      const pid = this.beamPid(i);
      if (pid === undefined) await startNode(d, this.#localPorts(), i, { signal: deadline.signal });
      else {
        signalPid(pid, 'SIGCONT');
        await runCli(d, this.#localPorts(), i, 'rabbitmqctl', ['start_app'], { signal: deadline.signal });
      }
      const up = allNodes(d)
        .map((n) => n.index)
        .filter((j) => j !== i && this.beamPid(j) !== undefined && !this.isPaused(j));
      await waitMember(d, this.#localPorts(), i, up, deadline.signal);
    } finally {
      deadline.clear();
    }
  }

  /**
   * SIGSTOP of node `i`'s VM — it stays connected but silent (a partition nobody announces) —
   * resolving once all its threads have stopped (Linux; at once elsewhere).
   */
  pause(i: number): Promise<void> {
    return this.#onNode(i, async () => {
      const pid = this.#runningPid(i, 'pause');
      signalPid(pid, 'SIGSTOP');
      if (process.platform !== 'linux') return;
      const end = Date.now() + 10_000;
      while (!isPaused(pid)) {
        if (Date.now() > end) throw new Error(`pause(${i}): node ${this.nodes[i]} (pid ${pid}) did not stop`);
        await sleep(10);
      }
    });
  }

  /** SIGCONT of node `i`'s VM after {@link pause} (the kernel wakes it at once). */
  resume(i: number): void {
    signalPid(this.#runningPid(i, 'resume'), 'SIGCONT');
  }

  /**
   * Live processes of node `i` (launcher script, VM, the VM's helpers, CLI calls aimed at it),
   * found by the node's directory in their environment (Linux; [] elsewhere). Empty once the
   * node is killed or stopped: nothing stray is left behind.
   */
  nodeProcesses(i: number): number[] {
    return markedProcesses(`${nodeLayout(this.#local(), this.#index(i)).dir}${path.sep}`);
  }

  /** True while node `i`'s VM is stopped by {@link pause}. */
  isPaused(i: number): boolean {
    const pid = this.beamPid(i);
    return pid !== undefined && isPaused(pid);
  }

  /**
   * Runs `rabbitmqctl -n <node i> args…` (the server's own script, with this cluster's cookie)
   * and resolves with its stdout; rejects with the CLI's error output.
   *
   * @example
   * ```ts
   * await cluster.ctl(0, 'list_connections', 'name', 'peer_port');
   * ```
   */
  ctl(i: number, ...args: string[]): Promise<string> {
    return this.#onNode(i, (d) =>
      runCli(d, this.#localPorts(), i, 'rabbitmqctl', args, { timeout: CLI_TIMEOUT }),
    );
  }

  /**
   * `cluster_status` as node `i` sees it.
   *
   * @example
   * ```ts
   * expect((await cluster.clusterStatus(1)).running_nodes).toHaveLength(3);
   * ```
   */
  clusterStatus(i = 0, opts: WaitOptions = {}): Promise<ClusterStatus> {
    return this.#onNode(i, (d) => clusterStatus(d, this.#localPorts(), i, opts));
  }

  /**
   * The queues of the default vhost as node `node` lists them, parsed (`name type members
   * leader messages` unless `columns` says otherwise).
   *
   * @example
   * ```ts
   * const [q] = (await cluster.queues()).filter((r) => r.name === name);
   * expect(q?.members).toHaveLength(3);
   * ```
   */
  queues(opts: { node?: number; columns?: string[] } = {}): Promise<QueueRow[]> {
    const columns = opts.columns ?? ['name', 'type', 'members', 'leader', 'messages'];
    return this.ctl(opts.node ?? 0, 'list_queues', ...columns, '--formatter', 'json').then(
      (out) => JSON.parse(out) as QueueRow[],
    );
  }

  /** Checks the cluster is local and `i` a node index — synchronously, as bad arguments throw — then runs `op`. */
  #onNode<T>(i: number, op: (d: LocalDescriptor) => Promise<T>): Promise<T> {
    const d = this.#local();
    this.#index(i);
    return op(d);
  }

  #local(): LocalDescriptor {
    if (this.#d.kind !== 'local') {
      throw new ClusterControlUnavailableError(
        'node control needs the local rabbitmq-server: AMQP_CLUSTER_URLS points at a cluster the harness does not run',
      );
    }
    return this.#d;
  }

  #localPorts(): ClusterPorts {
    this.#ports ??= readState(this.#local())?.ports;
    if (this.#ports === undefined)
      throw new Error('the cluster is not started yet: await cluster.ensureAllRunning() first');
    return this.#ports;
  }

  #index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`node index must be an integer from 0 to ${this.size - 1}, got ${String(i)}`);
    }
    return i;
  }

  #runningPid(i: number, op: string): number {
    const pid = this.beamPid(this.#index(i));
    if (pid === undefined) throw new Error(`${op}(${i}): node ${this.nodes[i]} is not running`);
    return pid;
  }
}

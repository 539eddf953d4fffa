/**
 * Where a local cluster keeps its files, and the configuration and environment of each node.
 *
 * Everything lives under the run's directory: `home/.erlang.cookie` (mode 400: Erlang refuses a
 * readable cookie), `state.json` (ports, boot status), `epmd.pid`, and per node `node-<n>/` with its
 * own `rabbitmq.conf`, an empty `rabbitmq-env.conf`, `enabled_plugins` (`[].`), `mnesia/`, `log/`,
 * `beam.pid` (written by the node: the VM's pid) and `launcher.pid` (the shell script we spawn).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CLUSTER_SIZE, type ClusterDescriptor } from './descriptor.js';

export type LocalDescriptor = Extract<ClusterDescriptor, { kind: 'local' }>;

/** Ports of one run, chosen free when the cluster boots. */
export interface ClusterPorts {
  epmd: number;
  /** AMQP listener of each node, in node order. */
  amqp: number[];
  /** Erlang distribution listener of each node (the CLI uses `dist + 10000 … + 10010`). */
  dist: number[];
}

/** The run's `state.json`: written before anything is spawned, `booted` once all three joined. */
export interface ClusterState {
  ports: ClusterPorts;
  booted: boolean;
}

/** Files and names of node `index` (0-based). */
export interface NodeLayout {
  index: number;
  /** `<prefix>-rabbit-<n>@localhost`, n = index + 1. */
  name: string;
  dir: string;
  pidFile: string;
  launcherPidFile: string;
  consoleLog: string;
  logDir: string;
}

/**
 * Files and node name of node `index`.
 *
 * @example
 * ```ts
 * nodeLayout(d, 0).name; // 'ck1a2b3c-rabbit-1@localhost'
 * ```
 */
export function nodeLayout(d: LocalDescriptor, index: number): NodeLayout {
  const dir = path.join(d.dir, `node-${index + 1}`);
  return {
    index,
    name: `${d.prefix}-rabbit-${index + 1}@localhost`,
    dir,
    pidFile: path.join(dir, 'beam.pid'),
    launcherPidFile: path.join(dir, 'launcher.pid'),
    consoleLog: path.join(dir, 'console.log'),
    logDir: path.join(dir, 'log'),
  };
}

/**
 * Every node's layout, in node order.
 *
 * @example
 * ```ts
 * allNodes(d).map((n) => n.name);
 * ```
 */
export function allNodes(d: LocalDescriptor): NodeLayout[] {
  return Array.from({ length: CLUSTER_SIZE }, (_, i) => nodeLayout(d, i));
}

/** @example `epmdPidFile(d)` → `<dir>/epmd.pid` */
export function epmdPidFile(d: LocalDescriptor): string {
  return path.join(d.dir, 'epmd.pid');
}

function stateFile(d: LocalDescriptor): string {
  return path.join(d.dir, 'state.json');
}

/**
 * The run's state, or undefined before the first boot.
 *
 * @example
 * ```ts
 * if (!readState(d)?.booted) await bootCluster(d);
 * ```
 */
export function readState(d: LocalDescriptor): ClusterState | undefined {
  if (!existsSync(stateFile(d))) return undefined;
  return JSON.parse(readFileSync(stateFile(d), 'utf8')) as ClusterState;
}

/**
 * Replaces the run's state (atomically: a worker and the teardown may read it).
 *
 * @example
 * ```ts
 * writeState(d, { ports, booted: true });
 * ```
 */
export function writeState(d: LocalDescriptor, state: ClusterState): void {
  const tmp = `${stateFile(d)}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, stateFile(d));
}

/**
 * Forgets the run's state (a failed boot: the next attempt starts afresh).
 *
 * @example
 * ```ts
 * removeState(d);
 * ```
 */
export function removeState(d: LocalDescriptor): void {
  rmSync(stateFile(d), { force: true });
}

/**
 * Writes the cookie and every node's config files (again, on each boot attempt).
 *
 * @example
 * ```ts
 * writeClusterFiles(d, ports);
 * ```
 */
export function writeClusterFiles(d: LocalDescriptor, ports: ClusterPorts): void {
  const home = path.join(d.dir, 'home');
  mkdirSync(home, { recursive: true });
  const cookie = path.join(home, '.erlang.cookie');
  if (!existsSync(cookie)) {
    writeFileSync(cookie, randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    chmodSync(cookie, 0o400);
  }
  for (const node of allNodes(d)) {
    mkdirSync(node.dir, { recursive: true });
    writeFileSync(
      path.join(node.dir, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${ports.amqp[node.index]}`,
        // The default (0.4 × RAM per node) would let three test nodes claim most of a shared machine.
        'vm_memory_high_watermark.absolute = 1GiB',
        'disk_free_limit.absolute = 50MB',
        // Quorum queues keep their write-ahead log in memory up to this size (default 512 MB).
        'raft.wal_max_size_bytes = 64000000',
        // A node paused longer than net_ticktime (60 s) comes back partitioned; heal by itself.
        'cluster_partition_handling = autoheal',
        'log.console = false',
        '',
      ].join('\n'),
    );
    // Our own (empty) env file: the system one sets NODENAME and ERL_FLAGS for the system node.
    writeFileSync(path.join(node.dir, 'rabbitmq-env.conf'), '');
    // No plugins: the management plugin would open listeners of its own (and cost ~1 s of boot).
    writeFileSync(path.join(node.dir, 'enabled_plugins'), '[].\n');
  }
}

/**
 * The environment shared by everything of the run (our epmd included): inherited `RABBITMQ_*`,
 * `ERL_*` and `HOME` dropped so nothing of the system node (or the caller) leaks in; HOME holds
 * our cookie; our epmd's port. HOME also marks the run's processes (see processes.ts).
 *
 * @example
 * ```ts
 * spawn(d.epmd, ['-port', String(ports.epmd)], { env: runEnv(d, ports) });
 * ```
 */
export function runEnv(d: LocalDescriptor, ports: ClusterPorts): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(RABBITMQ_|ERL_)/.test(key) && key !== 'HOME') env[key] = value;
  }
  return {
    ...env,
    HOME: path.join(d.dir, 'home'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_EPMD_PORT: String(ports.epmd),
  };
}

/**
 * The environment of node `index` and of every CLI call aimed at it: {@link runEnv} plus the
 * node's name, ports and files — every path the scripts would default to `/etc` or `/var` is our
 * own (the system node's config would add a listener on 5672: `eaddrinuse`).
 *
 * @example
 * ```ts
 * spawn(path.join(d.scriptsDir, 'rabbitmq-server'), [], { env: nodeEnv(d, ports, 0) });
 * ```
 */
export function nodeEnv(d: LocalDescriptor, ports: ClusterPorts, index: number): NodeJS.ProcessEnv {
  const node = nodeLayout(d, index);
  return {
    ...runEnv(d, ports),
    RABBITMQ_NODENAME: node.name,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(ports.amqp[index]),
    RABBITMQ_DIST_PORT: String(ports.dist[index]),
    RABBITMQ_CONFIG_FILE: path.join(node.dir, 'rabbitmq.conf'),
    RABBITMQ_CONFIG_FILES: path.join(node.dir, 'conf.d'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(node.dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: path.join(node.dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(node.dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: path.join(node.dir, 'mnesia'),
    RABBITMQ_LOG_BASE: node.logDir,
    RABBITMQ_PID_FILE: node.pidFile,
    // The distribution listener on loopback only (the default is every interface).
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
}

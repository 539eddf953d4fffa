/**
 * Starting one node of a local cluster (and its epmd) as detached processes, and waiting until
 * the node's RabbitMQ application runs.
 *
 * Detached (own process group, stdio to files, unref'd): the node must outlive the vitest worker
 * that happened to start it — the next test file, in a new worker, uses the same cluster, and the
 * global teardown in the main process stops it by pid.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../../../src/index.js';
import type { WaitOptions } from '../../../src/index.js';
import { runCli } from './cli.js';
import {
  epmdPidFile,
  nodeEnv,
  nodeLayout,
  runEnv,
  type ClusterPorts,
  type LocalDescriptor,
} from './layout.js';
import { portAnswers } from '../net.js';

/** A detached process we started; `exited` settles when it ends (or never, if it outlives us). */
interface Launched {
  pid: number;
  exited: Promise<number | null>;
}

function launch(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: string,
  pidFile: string,
): Launched {
  const out = openSync(log, 'a');
  try {
    const child = spawn(file, args, { env, detached: true, stdio: ['ignore', out, out] });
    if (child.pid === undefined) throw new Error(`could not start ${file}`);
    writeFileSync(pidFile, String(child.pid));
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    child.unref();
    return { pid: child.pid, exited };
  } finally {
    closeSync(out);
  }
}

/**
 * The last lines of a node's console output and log, for error messages.
 *
 * @example
 * ```ts
 * throw new Error(`node 2 did not start\n${logTail(d, 1)}`);
 * ```
 */
export function logTail(d: LocalDescriptor, index: number, lines = 15): string {
  const node = nodeLayout(d, index);
  const files = [node.consoleLog, path.join(node.logDir, `${node.name}.log`)];
  return files
    .filter((file) => existsSync(file))
    .map((file) => {
      const tail = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return `--- ${file} (last ${lines} lines)\n${tail}`;
    })
    .join('\n');
}

/**
 * Starts the run's own epmd on `ports.epmd` (so nothing of ours registers with the system node's
 * epmd on 4369) and waits until it answers.
 *
 * @example
 * ```ts
 * await startEpmd(d, ports);
 * ```
 */
export async function startEpmd(
  d: LocalDescriptor,
  ports: ClusterPorts,
  opts: WaitOptions = {},
): Promise<void> {
  opts.signal?.throwIfAborted();
  const launched = launch(
    d.epmd,
    ['-port', String(ports.epmd), '-address', '127.0.0.1'],
    runEnv(d, ports),
    path.join(d.dir, 'epmd.log'),
    epmdPidFile(d),
  );
  const end = Date.now() + (opts.timeout ?? 10_000);
  let exited = false;
  void launched.exited.then(() => (exited = true));
  while (!(await portAnswers('127.0.0.1', ports.epmd, 500))) {
    if (exited) throw new Error(`epmd exited at once on port ${ports.epmd}: see ${d.dir}/epmd.log`);
    if (Date.now() > end) throw new Error(`epmd did not answer on port ${ports.epmd}`);
    await sleep(50, { signal: opts.signal });
  }
}

/**
 * Starts node `index` (the package's own `rabbitmq-server`, with the node's own config) and
 * resolves once its RabbitMQ application runs (`rabbitmqctl wait <pidfile>`). A node that exits
 * during boot rejects at once with the tail of its log.
 *
 * @example
 * ```ts
 * await startNode(d, ports, 0, { timeout: 90_000 });
 * ```
 */
export async function startNode(
  d: LocalDescriptor,
  ports: ClusterPorts,
  index: number,
  opts: WaitOptions = {},
): Promise<void> {
  opts.signal?.throwIfAborted();
  const node = nodeLayout(d, index);
  // A stale pid file (from a killed VM) would make `wait` watch a dead pid.
  rmSync(node.pidFile, { force: true });
  const launched = launch(
    path.join(d.scriptsDir, 'rabbitmq-server'),
    [],
    nodeEnv(d, ports, index),
    node.consoleLog,
    node.launcherPidFile,
  );
  const timeout = opts.timeout ?? 120_000;
  // Ends the `wait` call when the node dies first (it would otherwise wait for a pid file).
  const gaveUp = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, gaveUp.signal]) : gaveUp.signal;
  const ready = runCli(
    d,
    ports,
    index,
    'rabbitmqctl',
    ['wait', node.pidFile, '--timeout', String(timeout / 1000)],
    {
      signal,
      timeout,
    },
  );
  const died = launched.exited.then((code) => {
    throw new Error(`node ${node.name} exited during boot (code ${code})\n${logTail(d, index)}`);
  });
  try {
    await Promise.race([ready, died]);
  } finally {
    gaveUp.abort(new Error('boot over'));
    // Whichever lost must not become an unhandled rejection.
    ready.catch(() => undefined);
    died.catch(() => undefined);
  }
}

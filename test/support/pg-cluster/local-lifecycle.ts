/**
 * Starting a local HA pair + PgBouncer: one temp directory per run, ports of its own, every server
 * pid in a ledger (local-teardown.ts ends them by pid, also when the start fails halfway).
 */
import { appendFileSync, chownSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PgPrograms } from './binaries.js';
import { sharedServerConf, writeBouncerConf, writeNodeConf } from './config-files.js';
import type { LocalClusterDescriptor, PgNode } from './descriptor.js';
import { LocalPgCluster, logTail } from './local-cluster.js';
import { bouncerPid, stopLocalCluster } from './local-teardown.js';
import { alive, pollUntil, recordPid, run } from './processes.js';
import { freePort } from './ports.js';
import { queryOnce } from './sql.js';

export interface StartLocalOptions {
  /** Test database created on the primary before the standby is cloned. Default `connkit_ha`. */
  database?: string;
  /** Parent of the run's temp directory. Default `os.tmpdir()`. */
  tempRoot?: string;
  /** Fixed ports; the rest are picked free (and picked again if another process takes one first). */
  ports?: Partial<Record<PgNode | 'bouncer', number>>;
  log?: (line: string) => void;
}

export interface StartedLocalCluster {
  cluster: LocalPgCluster;
  descriptor: LocalClusterDescriptor;
  /** Milliseconds per step, and `total`. */
  timings: Record<string, number>;
  /** Ends every process of the run by pid and removes its temp dir; resolves with the pids still found. */
  stop(): Promise<number[]>;
}

const PORT_CLASH = /Address already in use|could not bind/i;

/** Runs `step`; when it fails on a port another process took since we picked it, picks anew (3 tries). */
async function withPortRetry(
  fixed: boolean,
  repick: () => Promise<void>,
  step: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (fixed || attempt >= 3 || !PORT_CLASH.test(String(err))) throw err;
      await repick();
    }
  }
}

/**
 * Starts node `a` (initdb, primary), clones `b` from it as a streaming standby, creates the test
 * database and starts PgBouncer in transaction mode in front of `a`.
 * @example
 * const started = await startLocalCluster(findPgPrograms() as PgPrograms);
 * try { … started.cluster.url('a') … } finally { await started.stop(); }
 */
export async function startLocalCluster(
  programs: PgPrograms,
  opts: StartLocalOptions = {},
): Promise<StartedLocalCluster> {
  const log = opts.log ?? (() => undefined);
  const root = mkdtempSync(path.join(opts.tempRoot ?? tmpdir(), 'connkit-ha-'));
  const tag = path.basename(root);
  const ports: number[] = Object.values(opts.ports ?? {});
  const port = async (name: PgNode | 'bouncer') => {
    const chosen = opts.ports?.[name] ?? (await freePort(ports));
    ports.push(chosen);
    return chosen;
  };
  const node = async (name: PgNode) => ({
    port: await port(name),
    dataDir: path.join(root, name),
    logFile: path.join(root, `${name}.log`),
    clusterName: `${tag}-${name}`,
    slot: `connkit_ha_${name}`,
  });
  const d: LocalClusterDescriptor = {
    kind: 'local',
    root,
    tag,
    bindir: programs.bindir,
    runAs: programs.runAs,
    owner: programs.owner,
    socketDir: path.join(root, 'sockets'),
    ledger: path.join(root, 'pids'),
    database: opts.database ?? 'connkit_ha',
    nodes: { a: await node('a'), b: await node('b') },
    bouncer: {
      program: programs.pgbouncer,
      port: await port('bouncer'),
      ini: path.join(root, 'pgbouncer.ini'),
      pidFile: path.join(root, 'pgbouncer.pid'),
      logFile: path.join(root, 'pgbouncer.log'),
    },
  };
  const cluster = new LocalPgCluster(d);
  const timings: Record<string, number> = {};
  const timed = async (name: string, step: () => Promise<void>) => {
    const t0 = performance.now();
    await step();
    timings[name] = Math.round(performance.now() - t0);
  };
  const started = performance.now();
  try {
    chownSync(root, d.owner.uid, d.owner.gid);
    mkdirSync(d.socketDir);
    chownSync(d.socketDir, d.owner.uid, d.owner.gid);
    appendFileSync(d.ledger, '');
    await timed('initdb', async () => {
      const initdb = path.join(d.bindir, 'initdb');
      const args = [
        '-D',
        d.nodes.a.dataDir,
        '--auth=trust',
        '-U',
        'postgres',
        '--no-sync',
        '--no-locale',
        '-E',
        'UTF8',
      ];
      await run([...d.runAs, initdb, ...args], { env: cluster.childEnv() });
      appendFileSync(path.join(d.nodes.a.dataDir, 'postgresql.conf'), sharedServerConf(d));
    });
    await timed('primary', () =>
      withPortRetry(
        opts.ports?.a !== undefined,
        async () => void (d.nodes.a.port = await port('a')),
        async () => {
          writeNodeConf(d, 'a');
          await cluster.start('a');
        },
      ),
    );
    await timed('database', async () => {
      await queryOnce(cluster.url('a', 'postgres'), `create database ${d.database}`);
    });
    await timed('standby', () =>
      withPortRetry(
        opts.ports?.b !== undefined,
        async () => void (d.nodes.b.port = await port('b')),
        async () => {
          await cluster.cloneStandby('b');
          await cluster.start('b');
        },
      ),
    );
    await timed('bouncer', () =>
      withPortRetry(
        opts.ports?.bouncer !== undefined,
        async () => void (d.bouncer.port = await port('bouncer')),
        () => startBouncer(d, cluster),
      ),
    );
    await timed('caughtUp', () => cluster.waitCaughtUp('b'));
    timings['total'] = Math.round(performance.now() - started);
    log(
      `pair + PgBouncer up in ${timings['total']} ms ${JSON.stringify(timings)}: a :${d.nodes.a.port}, b :${d.nodes.b.port}, PgBouncer :${d.bouncer.port}, dir ${root}`,
    );
  } catch (err) {
    const left = await stopLocalCluster(d);
    log(
      `start of ${tag} failed after ${Object.keys(timings).join(', ') || 'nothing'}; ${left.length} processes left${left.length ? `: ${left.join(' ')}` : ''}`,
    );
    throw err;
  }
  return { cluster, descriptor: d, timings, stop: () => stopLocalCluster(d) };
}

/** PgBouncer as a daemon (`-d`: its own pid in the pid file, whichever wrapper ran it), then one query through it. */
async function startBouncer(d: LocalClusterDescriptor, cluster: LocalPgCluster): Promise<void> {
  writeBouncerConf(d);
  const hint = () => logTail(d.bouncer.logFile);
  await run([...d.runAs, d.bouncer.program, '-d', d.bouncer.ini], { env: cluster.childEnv(), hint });
  // `-d` exits 0 even when the daemon then fails (e.g. its port is taken): watch the log for that.
  let pid: number | undefined;
  await pollUntil(() => {
    pid = bouncerPid(d);
    return pid !== undefined || / FATAL /.test(logTail(d.bouncer.logFile));
  }, 10_000);
  if (pid === undefined) throw new Error(`PgBouncer did not start${hint()}`);
  recordPid(d.ledger, pid);
  let last: unknown;
  const answers = await pollUntil(async () => {
    if (!alive(pid!)) return true;
    try {
      await queryOnce(cluster.bouncerUrl(), 'select 1');
      return true;
    } catch (err) {
      last = err;
      return false;
    }
  }, 10_000);
  if (!alive(pid)) throw new Error(`PgBouncer exited${hint()}`);
  if (!answers) throw new Error(`PgBouncer does not answer: ${String(last)}${hint()}`);
}

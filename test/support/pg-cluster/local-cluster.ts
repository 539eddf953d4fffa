/**
 * Control of a pair this harness started on this machine, rebuilt from its descriptor in any
 * process (the vitest main process or a worker): pg_ctl as the data directories' owner, signals by
 * pid, SQL for roles and replication progress.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  findPrimary,
  multiHost,
  otherNode,
  type PgCluster,
  type StopMode,
  type WaitOptions,
} from './cluster.js';
import { writeNodeConf } from './config-files.js';
import type { LocalClusterDescriptor, PgNode } from './descriptor.js';
import { type ExtraStandby, startExtraStandby } from './extra-standby.js';
import { alive, childrenOf, commandLine, recordPid, run, signal } from './processes.js';
import { dropSlot, nodeRole, streamsFrom, waitAcceptsWrites, waitCaughtUp, type NodeRole } from './sql.js';

const DEFAULT_WAIT = 30_000;

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 25): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return `\n--- last lines of ${file}:\n${text}`;
  } catch {
    return '';
  }
}

/**
 * A local primary/standby pair (+ PgBouncer) described by a {@link LocalClusterDescriptor}.
 * @example
 * const cluster = new LocalPgCluster(inject('pgCluster') as LocalClusterDescriptor);
 * await cluster.stop('a');
 * await cluster.promote('b');
 * await cluster.reset();
 */
export class LocalPgCluster implements PgCluster {
  readonly kind = 'local';
  readonly descriptor: LocalClusterDescriptor;

  constructor(descriptor: LocalClusterDescriptor) {
    this.descriptor = descriptor;
  }

  get database(): string {
    return this.descriptor.database;
  }

  url(node: PgNode, database = this.database): string {
    return `postgres://postgres@127.0.0.1:${this.descriptor.nodes[node].port}/${database}`;
  }

  multiHostUrl(query = '', database = this.database): string {
    return multiHost([this.url('a'), this.url('b')], database, query);
  }

  bouncerUrl(database = this.database): string {
    return `postgres://postgres@127.0.0.1:${this.descriptor.bouncer.port}/${database}`;
  }

  get bouncerAdminUrl(): string {
    return this.bouncerUrl('pgbouncer');
  }

  role(node: PgNode): Promise<NodeRole> {
    return nodeRole(this.url(node, 'postgres'));
  }

  primary(): Promise<PgNode | undefined> {
    return findPrimary((n) => this.role(n));
  }

  /** Pid of the node's postmaster when it runs (checked against its command line, not only the pid file). */
  postmasterPid(node: PgNode): number | undefined {
    const { dataDir } = this.descriptor.nodes[node];
    let pid: number;
    try {
      pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
    return Number.isInteger(pid) && alive(pid) && commandLine(pid).includes(dataDir) ? pid : undefined;
  }

  async start(node: PgNode): Promise<void> {
    if (this.postmasterPid(node) !== undefined) return;
    const n = this.descriptor.nodes[node];
    await this.pgCtl(node, ['start', '-w', '-t', '60', '-D', n.dataDir, '-l', n.logFile]);
    const pid = this.postmasterPid(node);
    if (pid === undefined)
      throw new Error(`node ${node} started but has no live postmaster${logTail(n.logFile)}`);
    recordPid(this.descriptor.ledger, pid);
  }

  async stop(node: PgNode, opts: { mode?: StopMode } = {}): Promise<void> {
    const pid = this.postmasterPid(node);
    if (pid === undefined) return;
    // A frozen postmaster cannot act on pg_ctl's signal.
    this.#signalTree(pid, 'SIGCONT');
    const n = this.descriptor.nodes[node];
    await this.pgCtl(node, ['stop', '-w', '-t', '60', '-m', opts.mode ?? 'immediate', '-D', n.dataDir]);
  }

  async promote(node: PgNode, opts: WaitOptions = {}): Promise<void> {
    const n = this.descriptor.nodes[node];
    await this.pgCtl(node, ['promote', '-w', '-t', '60', '-D', n.dataDir]);
    // A restart must keep it a primary on its own port, not follow the old primary again.
    writeNodeConf(this.descriptor, node);
    await waitAcceptsWrites(this.url(node, 'postgres'), opts.timeout ?? DEFAULT_WAIT);
  }

  async pause(node: PgNode): Promise<void> {
    const pid = this.#requirePid(node);
    // The postmaster first, so it forks nothing new while its children are being stopped.
    signal(pid, 'SIGSTOP');
    for (const child of childrenOf(pid)) signal(child, 'SIGSTOP');
  }

  async resume(node: PgNode): Promise<void> {
    const pid = this.postmasterPid(node);
    if (pid !== undefined) this.#signalTree(pid, 'SIGCONT');
  }

  async waitCaughtUp(standby: PgNode = 'b', opts: WaitOptions = {}): Promise<void> {
    await waitCaughtUp(
      this.url(otherNode(standby), 'postgres'),
      this.descriptor.nodes[standby].clusterName,
      opts.timeout ?? DEFAULT_WAIT,
    );
  }

  /**
   * `a` primary, `b` its streaming standby, caught up. When that already holds it only waits for the
   * standby to catch up; otherwise `a` is made a primary again (started, or promoted if it was
   * following `b`) and `b` is cloned afresh from it — a fresh base backup is as fast as pg_rewind
   * here (< 1 s) and has no "no rewind required" trap. Writes made on `b` after a failover are gone.
   */
  async reset(opts: WaitOptions = {}): Promise<void> {
    const timeout = opts.timeout ?? DEFAULT_WAIT;
    await this.resume('a');
    await this.resume('b');
    if ((await this.role('a')) === 'primary' && (await this.#streams('b'))) {
      await this.waitCaughtUp('b', { timeout });
      return;
    }
    await this.stop('b');
    await this.#makePrimary('a', timeout);
    await this.cloneStandby('b');
    await this.start('b');
    await this.waitCaughtUp('b', { timeout });
  }

  startExtraStandby(): Promise<ExtraStandby> {
    return startExtraStandby(this);
  }

  /**
   * Replaces `node`'s data directory with a base backup of the other node (`pg_basebackup -R -X
   * stream -C -S <slot>`), configured to stream from it. The node must be stopped.
   */
  async cloneStandby(node: PgNode): Promise<void> {
    const d = this.descriptor;
    const self = d.nodes[node];
    const upstream = otherNode(node);
    if (this.postmasterPid(node) !== undefined) throw new Error(`cloneStandby(${node}): the node still runs`);
    await dropSlot(this.url(upstream, 'postgres'), self.slot, DEFAULT_WAIT);
    rmSync(self.dataDir, { recursive: true, force: true });
    await run(
      [
        ...d.runAs,
        path.join(d.bindir, 'pg_basebackup'),
        ...['-h', '127.0.0.1', '-p', String(d.nodes[upstream].port), '-U', 'postgres'],
        ...['-D', self.dataDir, '-R', '-X', 'stream', '-C', '-S', self.slot],
        '--checkpoint=fast',
        '--no-sync',
      ],
      { env: this.childEnv(), timeout: 120_000 },
    );
    writeNodeConf(d, node, upstream);
  }

  /** Runs pg_ctl as the data directory's owner; a failure quotes the node's log. */
  async pgCtl(node: PgNode, args: string[]): Promise<string> {
    const d = this.descriptor;
    return run([...d.runAs, path.join(d.bindir, 'pg_ctl'), ...args], {
      env: this.childEnv(),
      timeout: 90_000,
      hint: () => logTail(d.nodes[node].logFile),
    });
  }

  /** A clean environment for the server programs: no PG* variables of ours leak into them. */
  childEnv(): NodeJS.ProcessEnv {
    return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: this.descriptor.root, LC_ALL: 'C' };
  }

  /** True when `standby` is in recovery and the other node lists it as streaming. */
  async #streams(standby: PgNode): Promise<boolean> {
    if ((await this.role(standby)) !== 'standby') return false;
    return streamsFrom(this.url(otherNode(standby), 'postgres'), this.descriptor.nodes[standby].clusterName);
  }

  async #makePrimary(node: PgNode, timeout: number): Promise<void> {
    const role = await this.role(node);
    if (role === 'primary') return;
    if (role === 'standby') return this.promote(node, { timeout });
    // Down (or running but not answering): restart it as a primary from its own data.
    await this.stop(node);
    const { dataDir } = this.descriptor.nodes[node];
    for (const signalFile of ['standby.signal', 'recovery.signal']) {
      if (existsSync(path.join(dataDir, signalFile))) rmSync(path.join(dataDir, signalFile));
    }
    writeNodeConf(this.descriptor, node);
    await this.start(node);
    await waitAcceptsWrites(this.url(node, 'postgres'), timeout);
  }

  #requirePid(node: PgNode): number {
    const pid = this.postmasterPid(node);
    if (pid === undefined) throw new Error(`node ${node} is not running`);
    return pid;
  }

  #signalTree(pid: number, sig: NodeJS.Signals): void {
    for (const child of childrenOf(pid)) signal(child, sig);
    signal(pid, sig);
  }
}

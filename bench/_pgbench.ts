/**
 * pgbench (PostgreSQL's own C/libpq load generator) as a baseline contender: it runs as a child
 * process, so its client work is not in this Node process — it shows what the server and the machine
 * can do for the same `select $1` workload with no JavaScript client at all.
 * @module
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { Contender, RoundResult } from './harness.js';

const run = promisify(execFile);
// Latency: pgbench logs one transaction in 16 (--sampling-rate), like the Node contenders sample.
const SAMPLING_RATE = 1 / 16;

/** Full path of `pgbench` on PATH, or undefined. */
export function findPgbench(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'pgbench');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Why the pgbench row is missing, or undefined when pgbench is available. */
export function pgbenchMissing(): string | undefined {
  return findPgbench()
    ? undefined
    : 'pgbench row missing: `pgbench` is not on PATH (it ships with the PostgreSQL client tools, e.g. apt install postgresql-client)';
}

/** Parses `number of transactions actually processed: N` and `tps = X` from pgbench's output. */
export function parsePgbench(stdout: string): { transactions: number; tps: number } {
  const tps = /^tps = ([\d.]+)/m.exec(stdout);
  const tx = /^number of transactions actually processed: (\d+)/m.exec(stdout);
  if (!tps || !tx) throw new Error(`cannot parse pgbench output:\n${stdout}`);
  return { tps: Number(tps[1]), transactions: Number(tx[1]) };
}

/**
 * `pgbench -n -c <clients> -j 2 -T <seconds> -M extended -f <\set v random(1,1000); select :v;>`
 * against `url`, one run per round.
 */
export function pgbenchContender(name: string, url: string, clients: number, seconds: number): Contender {
  let dir: string | undefined;
  let script = '';
  return {
    name,
    async setup() {
      dir = await mkdtemp(join(tmpdir(), 'connkit-pgbench-'));
      script = join(dir, 'select.sql');
      await writeFile(script, '\\set v random(1, 1000)\nselect :v;\n');
    },
    async run(): Promise<RoundResult> {
      const logDir = await mkdtemp(join(dir!, 'log-'));
      const { stdout } = await run(
        findPgbench() ?? 'pgbench',
        [
          '-n',
          `-c${clients}`,
          `-j${Math.min(2, clients)}`,
          `-T${seconds}`,
          '-M',
          'extended',
          '-f',
          script,
          '-l',
          `--sampling-rate=${SAMPLING_RATE}`,
          `--log-prefix=${join(logDir, 'pgbench')}`,
          url,
        ],
        { env: { ...process.env, PGAPPNAME: 'bench_pgbench' }, cwd: logDir },
      );
      const { tps, transactions } = parsePgbench(stdout);
      // Log lines: client_id transaction_no time_us script_no time_epoch time_us_part.
      const latenciesMs: number[] = [];
      for (const f of await readdir(logDir)) {
        for (const line of (await readFile(join(logDir, f), 'utf8')).split('\n')) {
          const us = Number(line.split(' ')[2]);
          if (line && Number.isFinite(us)) latenciesMs.push(us / 1000);
        }
      }
      await rm(logDir, { recursive: true, force: true });
      // tps excludes the connection time, so the elapsed time is derived from it, not measured.
      return { ops: transactions, elapsedMs: (transactions / tps) * 1000, latenciesMs };
    },
    async teardown() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

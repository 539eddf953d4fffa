/**
 * A small, reusable benchmark harness: connkit and its baselines run alternately (A B A B …, the
 * starting contender rotating each round) in one process, so machine noise hits all of them alike.
 * Results are medians over rounds; the table shows throughput, latency percentiles and the ratio
 * connkit / baseline (> 1 means connkit is faster).
 *
 * A suite is a module in `bench/` that exports `suite: Suite`; `bench/index.ts` finds and runs it.
 *
 * @example
 * ```ts
 * import type { Suite } from './harness.js';
 * export const suite: Suite = {
 *   name: 'my-suite',
 *   description: '10 000 widgets',
 *   contenders: [
 *     { name: 'connkit', run: async () => ({ ops: await connkitWidgets(10_000) }) },
 *     { name: 'other', run: async () => ({ ops: await otherWidgets(10_000) }) },
 *   ],
 * };
 * ```
 * @module
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What one round of one contender reports. */
export interface RoundResult {
  /** Operations completed in the round. */
  ops: number;
  /** Wall time of the round in ms; measured by the harness around `run()` when omitted. */
  elapsedMs?: number;
  /** Latency samples of single operations, in ms (optional). */
  latenciesMs?: number[];
  /**
   * CPU time of this Node process (user + system, µs) during the timed part, from {@link startClock}.
   * Omitted where the work runs elsewhere (pgbench): the table then shows `—`.
   */
  cpuMicros?: number;
}

/**
 * Setup and teardown shared by several contenders (one pool or connection for every load level of a
 * library, so the server sees one per library): `setup` opens on the first call, `teardown` closes
 * after the last.
 *
 * @example
 * ```ts
 * const conn = refCounted(() => client.open(), () => client.close());
 * contenders.push({ name: 'pg · 1', setup: conn.setup, run, teardown: conn.teardown });
 * ```
 */
export function refCounted(
  open: () => void | Promise<void>,
  close: () => void | Promise<void>,
): { setup(): void | Promise<void>; teardown(): Promise<void> } {
  let users = 0;
  return {
    setup: () => (users++ === 0 ? open() : undefined),
    teardown: async () => {
      if (--users === 0) await close();
    },
  };
}

/**
 * Starts timing a round: `read()` gives the wall time and the CPU time this process spent since.
 * CPU per operation is far less noisy than throughput on a shared machine, and it is exactly the
 * cost a library adds in the application's process.
 *
 * @example
 * ```ts
 * const clock = startClock();
 * await work();
 * return { ops: n, ...clock.read() };
 * ```
 */
export function startClock(): { read(): { elapsedMs: number; cpuMicros: number } } {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  return {
    read: () => {
      const cpu = process.cpuUsage(cpu0);
      return { elapsedMs: performance.now() - t0, cpuMicros: cpu.user + cpu.system };
    },
  };
}

/** One library (or one way of using a library) in a suite. */
export interface Contender {
  /** Shown in the table; the first contender is the subject (connkit), the rest are baselines. */
  name: string;
  /** Called once before the first round (connect, create tables…). */
  setup?(): Promise<void> | void;
  /** One round of work. */
  run(): Promise<RoundResult>;
  /** Called once after the last round. */
  teardown?(): Promise<void> | void;
}

/** Extra figures that are not throughput (e.g. heap bytes per waiter), per contender. */
export interface Metric {
  /** E.g. `heap bytes / pending waiter`. */
  name: string;
  /** `lower` when smaller is better (memory, latency). */
  better: 'higher' | 'lower';
  /** Value per contender name. */
  values: Record<string, number>;
}

/** A benchmark suite. */
export interface Suite {
  name: string;
  /** One line saying what is measured. */
  description: string;
  contenders: Contender[];
  /** Rounds per contender (at least 3 are always attempted). @default 5 */
  rounds?: number;
  /** Time budget for the rounds, in ms; rounds stop once it is spent (after the warm-up). @default 60_000 */
  maxTimeMs?: number;
  /**
   * Quiet time before every round, in ms, so one contender's aftermath (server-side work, an exiting
   * process) is not measured as the next one's time. @default 0
   */
  settleMs?: number;
  /** Extra measurements run after the rounds. */
  metrics?(): Promise<Metric[]>;
  /** Extra text printed after the suite's tables (e.g. a chart of how throughput scales). */
  report?(result: SuiteResult): string;
}

/** Options for {@link runSuite}. */
export interface RunOptions {
  /** Overrides the suite's rounds. */
  rounds?: number | undefined;
  /** Overrides the suite's time budget, in ms. */
  maxTimeMs?: number | undefined;
}

/** Per-contender summary over rounds. */
export interface ContenderResult {
  name: string;
  rounds: number;
  /** Median throughput, ops/s. */
  opsPerSec: number;
  /** Throughput of every round, ops/s. */
  samples: number[];
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Median over the rounds of this process's CPU µs per operation (undefined when not measured). */
  cpuUsPerOp: number | undefined;
  /** connkit throughput / this contender's (1 for connkit itself). */
  ratio: number;
}

/** The outcome of a suite. */
export interface SuiteResult {
  suite: string;
  description: string;
  contenders: ContenderResult[];
  metrics: Metric[];
  durationMs: number;
  node: string;
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Median of a list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

let gcFn: (() => void) | undefined;
/**
 * A full garbage collection. Exposes `gc` at run time when node was started without `--expose-gc`,
 * so `npm run bench` needs no special flags.
 */
export function gc(): void {
  if (!gcFn) {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (existing) gcFn = existing;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
  gcFn();
}

/**
 * Measures the heap cost of `count` pending things: `make(i)` creates one and returns it (it is kept
 * alive until the measurement is done); `cleanup(kept)` lets them all finish afterwards.
 */
export async function heapBytesPer<K>(
  count: number,
  make: (i: number) => K,
  cleanup: (kept: K[]) => Promise<void> | void,
): Promise<number> {
  const keep = new Array<K>(count).fill(undefined as K);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) keep[i] = make(i);
  gc();
  const after = process.memoryUsage().heapUsed;
  await cleanup(keep);
  keep.length = 0;
  return Math.max(0, (after - before) / count);
}

/** Progress line on stderr (one line per update when stderr is not a terminal). */
export function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
  else process.stderr.write(`${text}\n`);
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

/**
 * The order of the contenders in round `round`: rotated by one each round and reversed every other
 * round, so no contender always runs right after the same one (A B C, C B A, B C A, A C B, …) —
 * whatever a contender leaves behind is spread over all the others.
 */
export function roundOrder(n: number, round: number): number[] {
  const order = Array.from({ length: n }, (_, k) => (k + (round >> 1)) % n);
  return round % 2 === 1 ? order.reverse() : order;
}

/** Runs a suite: one warm-up round per contender, then alternating timed rounds within the budget. */
export async function runSuite(suite: Suite, opts: RunOptions = {}): Promise<SuiteResult> {
  const rounds = Math.max(3, opts.rounds ?? suite.rounds ?? 5);
  const budget = opts.maxTimeMs ?? suite.maxTimeMs ?? 60_000;
  const settleMs = suite.settleMs ?? 0;
  const started = performance.now();
  const { contenders } = suite;
  const samples = contenders.map(() => [] as number[]);
  const cpu = contenders.map(() => [] as number[]);
  const latencies = contenders.map(() => [] as number[]);
  for (const c of contenders) await c.setup?.();
  try {
    const total = rounds + 1;
    for (let round = 0; round < total; round++) {
      const warmup = round === 0;
      if (!warmup && round > 3 && performance.now() - started > budget) {
        progress(`[${suite.name}] time budget of ${budget} ms spent after ${round - 1} rounds`);
        break;
      }
      for (const idx of roundOrder(contenders.length, round)) {
        const c = contenders[idx]!;
        progress(`[${suite.name}] ${warmup ? 'warm-up' : `round ${round}/${rounds}`} · ${c.name}`);
        // No forced GC here: a full collection shrinks the young generation, and the round after it
        // runs on a cold heap with up to twice the CPU per operation (measured: `select $1` at 64
        // callers went from ~37 to ~70 µs of CPU per query for both pg.Pool and connkit, and the
        // ratio between them moved by 10 %). Alternating the order spreads each one's garbage instead.
        // What the previous contender left running (a server finishing its work, a pgbench process
        // exiting, a broker flushing) must not land on this contender's clock.
        if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
        const t0 = performance.now();
        const result = await c.run();
        const elapsed = result.elapsedMs ?? performance.now() - t0;
        if (warmup) continue;
        samples[idx]!.push((result.ops / elapsed) * 1000);
        if (result.cpuMicros !== undefined) cpu[idx]!.push(result.cpuMicros / result.ops);
        if (result.latenciesMs) for (const l of result.latenciesMs) latencies[idx]!.push(l);
      }
    }
  } finally {
    for (const c of contenders) await c.teardown?.();
  }
  progress(`[${suite.name}] extra metrics…`);
  const metrics = (await suite.metrics?.()) ?? [];
  endProgress();
  const medians = samples.map((s) => median(s));
  const subject = medians[0]!;
  return {
    suite: suite.name,
    description: suite.description,
    contenders: contenders.map((c, i) => {
      const sorted = latencies[i]!.sort((a, b) => a - b);
      return {
        name: c.name,
        rounds: samples[i]!.length,
        opsPerSec: medians[i]!,
        samples: samples[i]!,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        cpuUsPerOp: cpu[i]!.length === 0 ? undefined : median(cpu[i]!),
        ratio: subject / medians[i]!,
      };
    }),
    metrics,
    durationMs: performance.now() - started,
    node: process.version,
  };
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const line = (r: string[]) =>
    r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Renders a suite result as plain-text tables. */
export function formatResult(result: SuiteResult): string {
  const subject = result.contenders[0]?.name ?? 'connkit';
  const rows = [['library', 'ops/s (median)', 'p50 ms', 'p99 ms', 'CPU µs/op', `${subject}/lib`, 'rounds']];
  for (const c of result.contenders) {
    rows.push([
      c.name,
      fmt(c.opsPerSec),
      fmt(c.p50Ms, 3),
      fmt(c.p99Ms, 3),
      fmt(c.cpuUsPerOp, 2),
      `${fmt(c.ratio, 2)}×`,
      String(c.rounds),
    ]);
  }
  const parts = [`## ${result.suite} — ${result.description}`, table(rows)];
  for (const m of result.metrics) {
    // The first value of a metric is the subject's.
    const own = Object.values(m.values)[0];
    const mrows = [
      ['library', m.name, `${Object.keys(m.values)[0] ?? subject} vs lib (${m.better} is better)`],
    ];
    for (const [name, value] of Object.entries(m.values)) {
      const ratio = own === undefined ? undefined : m.better === 'lower' ? value / own : own / value;
      mrows.push([name, fmt(value, 1), ratio === undefined ? '—' : `${fmt(ratio, 2)}×`]);
    }
    parts.push(table(mrows));
  }
  parts.push(`(${result.node}, ${fmt(result.durationMs / 1000, 1)} s)`);
  return parts.join('\n\n');
}

/**
 * A text bar chart of how throughput scales with load, for the `*-scaling` suites: one group per load
 * level, one bar per library, every bar scaled to the largest median in the suite.
 * @module
 */
import type { SuiteResult } from './harness.js';

/** One contender of a scaling suite: which library, at which load level. */
export interface ScalingPoint {
  /** Library label, the same at every level (e.g. `pg.Pool`). */
  library: string;
  /** Load level, e.g. 64 (callers or messages in flight). */
  level: number;
  /** The contender's name in the suite. */
  contender: string;
}

const WIDTH = 40;

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/**
 * Renders the chart. Beside each bar: median ops/s and, for every row but the first of its group,
 * the ratio first-library ÷ this one at the same level (> 1: the first library, connkit, is faster).
 */
export function scalingChart(
  result: SuiteResult,
  points: readonly ScalingPoint[],
  levelName: string,
): string {
  const byName = new Map(result.contenders.map((c) => [c.name, c.opsPerSec]));
  const max = Math.max(...points.map((p) => byName.get(p.contender) ?? 0).filter(Number.isFinite), 1);
  const labelWidth = Math.max(...points.map((p) => p.library.length));
  const levels = [...new Set(points.map((p) => p.level))];
  const lines = [`### ${result.suite}: median ops/s by ${levelName} (bars scaled to ${fmt(max)} ops/s)`];
  for (const level of levels) {
    lines.push(`${levelName} ${level}`);
    const group = points.filter((p) => p.level === level);
    const first = byName.get(group[0]?.contender ?? '');
    for (const p of group) {
      const ops = byName.get(p.contender);
      if (ops === undefined || !Number.isFinite(ops)) {
        lines.push(`  ${p.library.padEnd(labelWidth)}  (no result)`);
        continue;
      }
      const bar = '█'.repeat(Math.max(1, Math.round((ops / max) * WIDTH)));
      const ratio = p === group[0] || first === undefined ? '' : `  ${fmt(first / ops, 2)}×`;
      lines.push(`  ${p.library.padEnd(labelWidth)}  ${bar.padEnd(WIDTH)}  ${fmt(ops).padStart(7)}${ratio}`);
    }
  }
  return lines.join('\n');
}

/**
 * The main job end to end: `npm run demo` with chaos on the real services finishes with nothing lost
 * and nothing applied twice, prints its summary as JSON, and cleans up after itself; with `--trace`
 * it prints one order's trace as a tree.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../../../src/process.js';
import { withPgClient } from '../../support/pg.js';
import { amqpUrl, databaseUrl } from '../../support/services.js';

const tsx = createRequire(import.meta.url).resolve('tsx/cli');

describe('examples/order-pipeline (npm run demo)', () => {
  it('--chaos --json: 300 orders, faults injected, none lost, none applied twice, nothing left behind', async () => {
    const demoSchemas = async (): Promise<number> =>
      (
        await withPgClient(databaseUrl(), (c) =>
          c.query(`select 1 from information_schema.schemata where schema_name like 'connkit_demo_%'`),
        )
      ).rowCount ?? 0;
    const before = await demoSchemas();
    const result = await runProcess(
      process.execPath,
      [tsx, 'examples/order-pipeline/main.ts', '--orders', '300', '--concurrency', '4', '--chaos', '--json'],
      { env: { ...process.env, DATABASE_URL: databaseUrl(), AMQP_URL: amqpUrl() }, timeout: 240_000 },
    );
    expect(result.stderr).not.toMatch(/Unhandled|ERR_UNHANDLED/);
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    expect(summary).toMatchObject({ orders: 300, lost: 0, appliedTwice: 0 });
    for (const key of [
      'published',
      'delivered',
      'duplicatesSuppressed',
      'throughputPerSec',
      'p50Ms',
      'p99Ms',
    ]) {
      expect(typeof summary[key]).toBe('number');
    }
    expect(summary.published).toBeGreaterThanOrEqual(300);
    expect(summary.delivered).toBeGreaterThanOrEqual(300);
    expect(summary.faultsInjected).toBeGreaterThan(0);
    expect(await demoSchemas()).toBeLessThanOrEqual(before); // its own schema is gone
  }, 300_000);

  it('--trace: prints one order’s trace as a tree, root → enqueue → publish → deliver → apply, with durations', async () => {
    const result = await runProcess(
      process.execPath,
      [tsx, 'examples/order-pipeline/main.ts', '--orders', '20', '--concurrency', '2', '--trace'],
      { env: { ...process.env, DATABASE_URL: databaseUrl(), AMQP_URL: amqpUrl() }, timeout: 120_000 },
    );
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
    const lines = result.stdout.split('\n');
    const head = lines.findIndex((l) => /^trace [0-9a-f]{32} \(order \d+\)$/.test(l));
    expect(head, result.stdout).toBeGreaterThan(0);
    // Each step one level deeper than the one before: its depth is where its name starts.
    const tree = lines.slice(head + 1).filter((l) => l.trim() !== '');
    const steps = tree.map((line) => {
      const m = /^([ │├└─]*)(.+?) \[(\w+)\] +(\d+\.\d) ms {2}at \+(\d+\.\d) ms$/.exec(line);
      expect(m, line).not.toBeNull();
      return { depth: m![1]!.length / 3, name: m![2]!, role: m![3]!, ms: Number(m![4]) };
    });
    expect(steps.map((s) => [s.depth, s.role])).toEqual([
      [0, 'root'],
      [1, 'enqueue'],
      [2, 'publish'],
      [3, 'deliver'],
      [4, 'apply'],
    ]);
    const order = /\(order (\d+)\)/.exec(lines[head]!)![1];
    expect(steps.map((s) => s.name)).toEqual([
      `order ${order}`,
      'create amq.default',
      'send amq.default',
      expect.stringMatching(/^connkit_demo_orders_\w+ process$/),
      `apply order ${order}`,
    ]);
    for (const s of steps) expect(s.ms).toBeGreaterThanOrEqual(0);
  }, 150_000);
});

/**
 * The main job end to end: `npm run demo` with chaos on the real services finishes with nothing lost
 * and nothing applied twice, prints its summary as JSON, and cleans up after itself.
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
});

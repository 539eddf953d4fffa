/**
 * `npm run demo -- --cluster --chaos` end to end: with no AMQP_URLS the demo starts a local
 * 3-node cluster of its own (through the harness), runs the order pipeline on it through a quorum
 * queue while chaos kills and restarts nodes (and cuts database connections), finishes with nothing
 * lost and nothing applied twice, and stops every process of its cluster.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../../src/process.js';
import { clusterSkipReason } from '../support/rabbit-cluster.js';
import { markedProcesses } from '../support/rabbit-cluster/processes.js';
import { resolveServices } from '../support/service-resolution.js';

const tsx = createRequire(import.meta.url).resolve('tsx/cli');

describe.skipIf(clusterSkipReason({ control: true }))('examples/order-pipeline --cluster', () => {
  it(
    'npm run demo -- --cluster --chaos --json: 600 orders on a cluster it starts itself, nodes killed, none lost, none applied twice, the cluster gone afterwards',
    { timeout: 300_000 },
    async () => {
      const services = await resolveServices();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: services.databaseUrl,
        AMQP_URL: services.amqpUrl,
      };
      delete env['AMQP_URLS'];
      const result = await runProcess(
        process.execPath,
        [
          tsx,
          'examples/order-pipeline/main.ts',
          '--cluster',
          '--chaos',
          '--orders',
          '600',
          '--concurrency',
          '4',
          '--json',
        ],
        { env, timeout: 240_000 },
      );
      expect(result.stderr).not.toMatch(/Unhandled|ERR_UNHANDLED/);
      expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
      // stdout is the summary alone.
      const summary = JSON.parse(result.stdout.trim()) as Record<string, unknown>;
      expect(summary).toMatchObject({ orders: 600, lost: 0, appliedTwice: 0 });
      expect(summary['amqpUrls']).toHaveLength(3);
      expect(summary['nodeFaults']).toBeGreaterThanOrEqual(1);
      expect(summary['delivered']).toBeGreaterThanOrEqual(600);
      console.log(`[cluster] demo ${JSON.stringify({ ...summary, pool: undefined, broker: undefined })}`);

      const dir = /removed (\S*connkit-rmq-ck[0-9a-f]{6})/.exec(result.stderr)?.[1];
      expect(dir, result.stderr.slice(-2000)).toBeDefined();
      expect(existsSync(dir!)).toBe(false);
      expect(markedProcesses(`${dir}${path.sep}`)).toEqual([]);
    },
  );
});

import { defineConfig } from 'vitest/config';
import { PG_CURSOR_LOWEST_ENTRY } from './test/support/pg-lowest.js';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit tests first: they need no services and fail fastest.
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Real services on a 2-core machine: a few files at a time keeps timings meaningful.
          maxWorkers: 2,
        },
      },
      {
        test: {
          // The packed tarball installed into a scratch project (test/package/pack.test.ts): npm and
          // tsc are CPU-heavy, so it runs alone, after the integration tests.
          name: 'package',
          sequence: { groupOrder: 2 },
          include: ['test/package/**/*.test.ts'],
          testTimeout: 120_000,
          maxWorkers: 1,
        },
      },
      {
        // The PostgreSQL tests again — integration, PostgreSQL faults and the outbox — on the lowest
        // pg that peerDependencies allow (test/support/pg-lowest.ts): `pg` resolves to the
        // `pg-lowest` alias package, and pg-cursor to a copy that require()s that same pg.
        resolve: {
          alias: [
            { find: /^pg$/, replacement: 'pg-lowest' },
            { find: /^pg\/(.*)$/, replacement: 'pg-lowest/$1' },
            { find: /^pg-cursor$/, replacement: PG_CURSOR_LOWEST_ENTRY },
          ],
        },
        test: {
          name: 'pg-lowest',
          sequence: { groupOrder: 3 },
          include: [
            'test/pg-lowest/**/*.test.ts',
            'test/integration/postgres/**/*.test.ts',
            'test/integration/outbox/**/*.test.ts',
            'test/faults/postgres-*.test.ts',
          ],
          globalSetup: ['test/support/global-setup.ts', 'test/support/pg-lowest-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
        },
      },
      {
        test: {
          // A PostgreSQL primary + streaming standby + PgBouncer started once per run by the global
          // setup (only when files of this project run) and shared by the files: one file at a time,
          // since they stop, promote and reset the shared pair.
          name: 'ha',
          sequence: { groupOrder: 4 },
          include: ['test/ha/**/*.test.ts'],
          globalSetup: ['test/support/pg-cluster-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Faults that disturb the whole broker (close_all_connections, stop_app/start_app): alone,
          // one file at a time, after every other test.
          name: 'faults-exclusive',
          sequence: { groupOrder: 6 },
          include: ['test/faults-exclusive/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
      {
        test: {
          // A real 3-node RabbitMQ cluster (test/support/rabbit-cluster/README.md), booted by the
          // first file; files one at a time: they kill, stop and pause its nodes.
          name: 'cluster',
          sequence: { groupOrder: 5 },
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/support/rabbit-cluster/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
    ],
  },
});

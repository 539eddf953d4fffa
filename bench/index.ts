/**
 * `npm run bench [-- <suite…>] [--json <file>] [--rounds <n>] [--time <seconds>]`
 *
 * Runs the named suites (`bench/<name>.ts`, each exporting `suite`), or every suite found in `bench/`.
 * Tables go to stdout, progress to stderr; `--json` also writes the results to a file.
 * @module
 */
import { readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { stopBenchServices } from './_services.js';
import { formatResult, runSuite } from './harness.js';
import { ServicesUnavailableError } from '../test/support/service-resolution.js';
import type { Suite, SuiteResult } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOT_SUITES = new Set(['index', 'harness']);

async function loadSuite(name: string): Promise<Suite | undefined> {
  const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { suite?: Suite };
  return mod.suite;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'string' },
      rounds: { type: 'string' },
      time: { type: 'string' },
    },
  });
  const available = (await readdir(here))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => basename(f, '.ts'))
    .filter((n) => !NOT_SUITES.has(n))
    .sort();
  const names = positionals.length > 0 ? positionals : available;
  for (const n of names) {
    if (!available.includes(n))
      throw new Error(`unknown suite ${JSON.stringify(n)}; available: ${available.join(', ')}`);
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  const maxTimeMs = values.time === undefined ? undefined : Number(values.time) * 1000;
  const results: SuiteResult[] = [];
  for (const n of names) {
    const suite = await loadSuite(n);
    if (!suite) {
      // A helper module living in bench/ rather than a suite: skip it when running everything.
      if (positionals.length > 0) throw new Error(`bench/${n}.ts does not export a suite`);
      continue;
    }
    const result = await runSuite(suite, { rounds, maxTimeMs });
    results.push(result);
    process.stdout.write(`${formatResult(result)}\n\n`);
    const extra = suite.report?.(result);
    if (extra) process.stdout.write(`${extra}\n\n`);
  }
  if (values.json !== undefined) {
    await writeFile(values.json, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
    process.stderr.write(`results written to ${values.json}\n`);
  }
}

main()
  .catch((err: unknown) => {
    // Missing services: the message alone says what to do.
    const text =
      err instanceof ServicesUnavailableError
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    process.stderr.write(`${text}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopBenchServices());

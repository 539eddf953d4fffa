/**
 * Vitest global setup of the projects that need services (`integration`, `faults-exclusive`):
 * resolves the real services once and hands their URLs to every test file through
 * `provide`/`inject`. Integration tests are never silently skipped: without services the run fails
 * here with one clear message.
 */
import type { TestProject } from 'vitest/node';
import { resolveServices, type ResolvedServices } from './service-resolution.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    amqpUrl: string;
  }
}

// Several projects run this setup in one vitest process: share one resolution (one pair of
// containers under Docker) and stop it when the last project is done.
let shared: Promise<ResolvedServices> | undefined;
let users = 0;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  shared ??= resolveServices({ log: (line) => console.log(`[services] ${line}`) });
  users += 1;
  const services = await shared;
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('amqpUrl', services.amqpUrl);
  return async () => {
    users -= 1;
    if (users === 0) {
      shared = undefined;
      await services.stop();
    }
  };
}

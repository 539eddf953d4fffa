/**
 * Vitest global setup of the `integration` project: resolves the real services once and hands their
 * URLs to every test file through `provide`/`inject`. Integration tests are never silently skipped:
 * without services the run fails here with one clear message.
 */
import type { TestProject } from 'vitest/node';
import { resolveServices } from './service-resolution.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    amqpUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await resolveServices({ log: (line) => console.log(`[services] ${line}`) });
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('amqpUrl', services.amqpUrl);
  return () => services.stop();
}

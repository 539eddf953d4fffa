/**
 * connkit core: Python asyncio's concurrency toolbox for TypeScript, and the pool.
 * @module
 */
export * from './errors.js';
export * from './semaphore.js';
export * from './bounded-semaphore.js';
export type { WaitOptions, SignalOptions } from './options.js';

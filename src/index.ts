/**
 * connkit core: Python asyncio's concurrency toolbox for TypeScript, and the pool.
 * @module
 */
export * from './errors.js';
export * from './semaphore.js';
export * from './bounded-semaphore.js';
export * from './lock.js';
export * from './event.js';
export * from './condition.js';
export * from './barrier.js';
export * from './queue.js';
export * from './priority-queue.js';
export * from './lifo-queue.js';
export type { WaitOptions, SignalOptions } from './options.js';

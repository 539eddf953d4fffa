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
export * from './future.js';
export * from './task.js';
export * from './task-group.js';
export * from './gather.js';
export * from './timeout.js';
export * from './retry.js';
export * from './pool.js';
export * from './pool-options.js';
export * from './run-main.js';
export * from './process.js';
export * from './loop-monitor.js';
export type { WaitOptions, SignalOptions } from './options.js';
export type { Logger } from './logger.js';

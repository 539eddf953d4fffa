/** Heap measurements for leak tests: a forced GC (without needing `--expose-gc`) and settled heap figures. */
import v8 from 'node:v8';
import vm from 'node:vm';
import { flush } from './async.js';

let collect: (() => void) | undefined;

/** Runs a full garbage collection. Works without `--expose-gc` by enabling it at runtime. */
export function forceGc(): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') collect = exposed;
    else {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    }
  }
  collect();
}

/** Heap used after pending callbacks ran and a few full collections (bytes). */
export async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await flush();
    await new Promise((resolve) => setTimeout(resolve, 10));
    forceGc();
  }
  return process.memoryUsage().heapUsed;
}

/** Bytes as MiB with one decimal, for reports. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CancelledError } from '../../src/errors.js';
import { runMain } from '../../src/run-main.js';

const fixture = fileURLToPath(new URL('./fixtures/run-main-fixture.ts', import.meta.url));

interface Child {
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves once `marker` appeared on stdout. */
  waitFor(marker: string): Promise<void>;
  kill(sig: NodeJS.Signals): void;
}

function startFixture(...args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const markers: { marker: string; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const m of markers) if (stdout.includes(m.marker)) m.resolve();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    exited,
    waitFor: (marker) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.includes(marker)) return resolve();
        markers.push({ marker, resolve });
        exited.then(() => reject(new Error(`exited before "${marker}": ${stdout}\n${stderr}`)), reject);
      }),
    kill: (sig) => child.kill(sig),
  };
}

describe('runMain() in a child process', () => {
  it('aborts main on SIGTERM and exits 0 after a graceful finish', async () => {
    const child = startFixture('graceful');
    await child.waitFor('ready');
    child.kill('SIGTERM');
    const { code, stdout } = await child.exited;
    expect(stdout).toContain('aborted: runMain: received SIGTERM, shutting down');
    expect(stdout).toContain('cleaned up');
    expect(code).toBe(0);
  });

  it('exits 0 when main rethrows the shutdown reason', async () => {
    const child = startFixture('rethrow');
    await child.waitFor('ready');
    child.kill('SIGINT');
    expect((await child.exited).code).toBe(0);
  });

  it('forces exit with 128 + signal number when main outlives the shutdown timeout', async () => {
    const child = startFixture('hang', '300');
    await child.waitFor('ready');
    child.kill('SIGTERM');
    const { code, stdout, stderr } = await child.exited;
    expect(stdout).toContain('aborted');
    expect(stdout).not.toContain('should never get here');
    expect(stderr).toContain('did not finish within 300 ms after SIGTERM');
    expect(code).toBe(143);
  });

  it('forces exit on a second signal', async () => {
    const child = startFixture('hang', '60000');
    await child.waitFor('ready');
    child.kill('SIGTERM');
    await child.waitFor('aborted');
    child.kill('SIGINT');
    const { code, stderr } = await child.exited;
    expect(stderr).toContain('received SIGINT again');
    expect(code).toBe(130);
  });

  it('exits 1 and prints the error when main fails', async () => {
    const { code, stderr } = await startFixture('fail').exited;
    expect(stderr).toContain('main exploded');
    expect(code).toBe(1);
  });

  it('exits 0 when main finishes on its own', async () => {
    const { code, stdout } = await startFixture('finish').exited;
    expect(stdout).toContain('ready');
    expect(code).toBe(0);
  });
});

describe('runMain()', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('removes its signal handlers and reports the exit code when main finishes', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const exit = vi.fn();
    const running = runMain(
      async () => {
        expect(process.listenerCount('SIGTERM')).toBe(before[1]! + 1);
      },
      { exit },
    );
    expect(await running).toBe(0);
    expect(exit).toHaveBeenCalledWith(0);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });

  it('aborts the signal with a CancelledError on the first signal and forces exit after shutdownTimeout', async () => {
    vi.useFakeTimers();
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const exit = vi.fn();
    let signal!: AbortSignal;
    const running = runMain(
      (s) => {
        signal = s;
        return new Promise<void>(() => {});
      },
      // A harmless signal, so that emitting it cannot reach handlers of the test runner itself.
      { exit, shutdownTimeout: 1000, signals: ['SIGWINCH'] },
    );
    process.emit('SIGWINCH', 'SIGWINCH');
    expect(signal.reason).toBeInstanceOf(CancelledError);
    await vi.advanceTimersByTimeAsync(999);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledWith(128 + constants.signals.SIGWINCH);
    expect(await running).toBe(128 + constants.signals.SIGWINCH);
    expect(process.listenerCount('SIGWINCH')).toBe(0);
  });

  it('with shutdownTimeout 0 exits 0 only if main finishes within the microtasks that follow the abort', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const quickExit = vi.fn();
    const quick = runMain(
      (signal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => void Promise.resolve().then(resolve)),
        ),
      { exit: quickExit, shutdownTimeout: 0, signals: ['SIGWINCH'] },
    );
    process.emit('SIGWINCH', 'SIGWINCH');
    expect(await quick).toBe(0);
    const slowExit = vi.fn();
    const slow = runMain(
      // setImmediate runs well before a 1 ms timer: a timer-based deadline would let it finish.
      (signal) =>
        new Promise<void>((resolve) => signal.addEventListener('abort', () => setImmediate(resolve))),
      { exit: slowExit, shutdownTimeout: 0, signals: ['SIGWINCH'] },
    );
    process.emit('SIGWINCH', 'SIGWINCH');
    expect(await slow).toBe(128 + constants.signals.SIGWINCH);
    expect(slowExit).toHaveBeenCalledWith(128 + constants.signals.SIGWINCH);
  });

  it('rejects a bad shutdownTimeout synchronously', () => {
    expect(() => runMain(async () => {}, { shutdownTimeout: -1 })).toThrow(/got -1/);
    expect(() => runMain('main' as never)).toThrow(TypeError);
  });
});

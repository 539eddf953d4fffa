import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { runProcess } from '../../src/process.js';
import { trackListeners } from './helpers/unhandled-rejections.js';
import { rejectionOf, until } from '../support/async.js';

const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'connkit-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForFile(path: string): Promise<void> {
  await until(() => existsSync(path), 15_000, path);
}

describe('runProcess()', () => {
  it('collects stdout, stderr and a non-zero exit code as a result', async () => {
    const result = await runProcess(node, [
      '-e',
      "process.stdout.write('out ✓'); process.stderr.write('err'); process.exitCode = 3",
    ]);
    expect(result).toEqual({ exitCode: 3, signal: null, stdout: 'out ✓', stderr: 'err' });
  });

  it('feeds input to stdin and closes it', async () => {
    const script =
      "let s=''; process.stdin.on('data', d => s += d).on('end', () => process.stdout.write(s.toUpperCase()))";
    expect((await runProcess(node, ['-e', script], { input: 'hello\n' })).stdout).toBe('HELLO\n');
    expect(
      (await runProcess(node, ['-e', script], { input: new TextEncoder().encode('bytes') })).stdout,
    ).toBe('BYTES');
  });

  it('survives a child that exits without reading a large input (EPIPE)', async () => {
    const input = 'x'.repeat(4 * 1024 * 1024);
    const result = await runProcess(node, ['-e', 'process.exit(0)'], { input });
    expect(result.exitCode).toBe(0);
  });

  it('passes arguments literally, without a shell', async () => {
    const args = ['$HOME', '; echo pwned', '`id`', 'it\'s "quoted"'];
    const { stdout } = await runProcess(node, [
      '-e',
      'console.log(JSON.stringify(process.argv.slice(1)))',
      ...args,
    ]);
    expect(JSON.parse(stdout)).toEqual(args);
  });

  it('honours cwd and env', async () => {
    const { stdout } = await runProcess(node, ['-e', 'console.log(process.cwd(), process.env.CONNKIT_X)'], {
      cwd: dir,
      env: { ...process.env, CONNKIT_X: 'yes' },
    });
    expect(stdout.trim()).toBe(`${dir} yes`);
  });

  it('kills the child and rejects with TimeoutError on timeout', async () => {
    const err = await rejectionOf(runProcess(node, ['-e', 'setInterval(() => {}, 1000)'], { timeout: 300 }));
    expect(err).toBeInstanceOf(TimeoutError);
    const message = (err as TimeoutError).message;
    expect(message).toMatch(/^runProcess\(".*node.*"\) timed out after 300 ms \(pid \d+\)$/);
    const pid = Number(/pid (\d+)/.exec(message)![1]);
    expect(alive(pid)).toBe(false);
  });

  it('sends SIGKILL after killTimeout to a child that ignores SIGTERM, and rejects with signal.reason', async () => {
    const ready = join(dir, 'ready');
    const term = join(dir, 'term');
    const script = `
      const fs = require('node:fs');
      process.on('SIGTERM', () => fs.writeFileSync(${JSON.stringify(term)}, 'got SIGTERM'));
      fs.writeFileSync(${JSON.stringify(ready)} + '.tmp', String(process.pid));
      fs.renameSync(${JSON.stringify(ready)} + '.tmp', ${JSON.stringify(ready)});
      setInterval(() => {}, 1000);`;
    const ac = new AbortController();
    const reason = new Error('user pressed stop');
    const stopped = expect(
      runProcess(node, ['-e', script], { signal: ac.signal, killTimeout: 200 }),
    ).rejects.toBe(reason);
    await waitForFile(ready);
    const pid = Number(readFileSync(ready, 'utf8'));
    expect(alive(pid)).toBe(true);
    ac.abort(reason);
    await stopped;
    expect(readFileSync(term, 'utf8')).toBe('got SIGTERM'); // it survived TERM…
    expect(alive(pid)).toBe(false); // …and KILL ended it
  });

  it('shares one listener on a long-lived signal among concurrent runs and leaves none after', async () => {
    const ac = new AbortController();
    const listeners = trackListeners(ac.signal);
    const runs = [1, 2, 3].map((n) =>
      runProcess(node, ['-e', `process.stdout.write('${n}')`], { signal: ac.signal }),
    );
    expect(listeners.active()).toBe(1);
    expect((await Promise.all(runs)).map((r) => r.stdout)).toEqual(['1', '2', '3']);
    expect(listeners.active()).toBe(0);
  });

  it('rejects at once for an already-aborted signal, spawning nothing', async () => {
    const marker = join(dir, 'spawned');
    const reason = new Error('already');
    await expect(
      runProcess(node, ['-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`], {
        signal: AbortSignal.abort(reason),
      }),
    ).rejects.toBe(reason);
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(marker)).toBe(false);
  });

  it('rejects at once with TimeoutError for timeout 0, spawning nothing', async () => {
    const marker = join(dir, 'spawned-timeout-0');
    let outcome: unknown;
    runProcess(node, ['-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`], {
      timeout: 0,
    }).then(
      () => (outcome = 'resolved'),
      (err: unknown) => (outcome = err),
    );
    await new Promise((r) => setImmediate(r)); // no child could have run and exited by now
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect((outcome as Error).message).toBe(
      `runProcess(${JSON.stringify(node)}) timed out after 0 ms (not started)`,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(marker)).toBe(false);
  });

  it('rejects with the spawn error for a missing program', async () => {
    await expect(runProcess('connkit-no-such-program-xyz')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('validates its arguments synchronously', () => {
    expect(() => runProcess('')).toThrow(TypeError);
    expect(() => runProcess(node, 'x' as never)).toThrow(/args must be an array of strings, got "x"/);
    expect(() => runProcess(node, ['secret', 7] as never)).toThrow(/got 7 at index 1$/);
    expect(() => runProcess(node, [], { timeout: -1 })).toThrow(/got -1/);
    expect(() => runProcess(node, [], { input: 5 as never })).toThrow(
      /input must be a string or a Uint8Array, got 5/,
    );
  });
});

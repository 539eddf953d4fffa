/** Polling for integration tests that watch a real server settle (e.g. a backend leaving `pg_stat_activity`). */

/** Polls `check` every 50 ms until it is true; throws "timed out waiting for `what`" after `ms`. */
export async function waitUntil(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

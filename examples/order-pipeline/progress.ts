/**
 * Progress display: a cli-progress bar on a terminal, plain lines (one per second) otherwise.
 * Everything goes to stderr so that `--json` keeps stdout for the summary alone.
 */
import cliProgress from 'cli-progress';

export interface ProgressCounts {
  created: number;
  published: number;
  applied: number;
  faults: number;
}

export interface Progress {
  update(counts: ProgressCounts): void;
  stop(): void;
}

/** A progress display for `total` orders. */
export function createProgress(total: number): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          'orders {bar} {percentage}% | created {created} | published {published} | applied {value}/{total} | faults {faults} | {duration}s',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { created: 0, published: 0, faults: 0 });
    return {
      update: (c) => bar.update(c.applied, { created: c.created, published: c.published, faults: c.faults }),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update: (c) => {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      process.stderr.write(
        `orders: created ${c.created}/${total}, published ${c.published}, applied ${c.applied}/${total}, faults ${c.faults}\n`,
      );
    },
    stop: () => undefined,
  };
}

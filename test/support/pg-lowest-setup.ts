/** Vitest global setup of the `pg-lowest` project (see ./pg-lowest.ts). */
import { preparePgLowest } from './pg-lowest.js';

export default function setup(): void {
  preparePgLowest();
}

/**
 * UUIDv7 (RFC 9562 §5.7) for outbox message ids: a 48-bit Unix-millisecond timestamp first, so ids
 * made later sort later — the inboxes that record them insert near the right edge of their index
 * instead of at random pages — and they are still plain UUIDs on the wire.
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** 42 bits of `rand_a` + the top of `rand_b` count up within one millisecond (RFC 9562 §6.2, method 1). */
const COUNTER_BITS = 42;
const COUNTER_LIMIT = 2 ** COUNTER_BITS;
/** A new millisecond seeds the counter below 2^41, leaving at least 2^41 increments before it overflows. */
const SEED_LIMIT = 2 ** (COUNTER_BITS - 1);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn in blocks: one `randomFillSync` per 64 ids instead of per id. */
const POOL_SIZE = 10 * 64;

/**
 * A UUIDv7 source: monotonic within the process — each id sorts after the one before, also within a
 * millisecond and when the wall clock steps back.
 *
 * @example
 * ```ts
 * const ids = new UuidV7Generator();
 * ids.next(); // '01890a5d-ac96-774b-bcce-b302099a8057'
 * ```
 */
export class UuidV7Generator {
  readonly #clock: () => number;
  readonly #fill: (bytes: Uint8Array) => void;
  readonly #pool = new Uint8Array(POOL_SIZE);
  #poolUsed = POOL_SIZE;
  #ms = -1;
  #counter = 0;

  /**
   * @param clock Unix time in ms (`Date.now`; tests pass their own).
   * @param fill Fills bytes with cryptographically strong random values.
   */
  constructor(clock: () => number = Date.now, fill: (bytes: Uint8Array) => void = randomFillSync) {
    this.#clock = clock;
    this.#fill = fill;
  }

  /** The next id, as 36 lower-case hex characters and dashes. */
  next(): string {
    const random = this.#random(10);
    const ms = Math.floor(this.#clock());
    if (ms > this.#ms) {
      this.#ms = ms;
      this.#counter = readUint48(random, 4) % SEED_LIMIT; // a fresh random start each millisecond
    } else if (++this.#counter >= COUNTER_LIMIT) {
      // 2^41 ids in one millisecond (or the clock went back): borrow the next millisecond.
      this.#ms += 1;
      this.#counter = readUint48(random, 4) % SEED_LIMIT;
    }
    return format(this.#ms, this.#counter, random);
  }

  /** `n` (≤ 10) fresh random bytes from the pool; bytes 0–3 become the id's last 32 bits. */
  #random(n: number): Uint8Array {
    if (this.#poolUsed + n > POOL_SIZE) {
      this.#fill(this.#pool);
      this.#poolUsed = 0;
    }
    const bytes = this.#pool.subarray(this.#poolUsed, this.#poolUsed + n);
    this.#poolUsed += n;
    return bytes;
  }
}

function readUint48(bytes: Uint8Array, at: number): number {
  let n = 0;
  for (let i = at; i < at + 6; i++) n = n * 256 + (bytes[i] as number);
  return n;
}

/**
 * Lays out `unix_ts_ms` (48) | ver 0111 | counter high 12 (`rand_a`) | var 10 | counter low 30 |
 * 32 random bits.
 */
function format(ms: number, counter: number, random: Uint8Array): string {
  const high = Math.floor(counter / 2 ** 30); // 12 bits
  const low = counter % 2 ** 30; // 30 bits
  const b = new Uint8Array(16);
  let t = ms;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (high >>> 8);
  b[7] = high & 0xff;
  b[8] = 0x80 | (low >>> 24);
  b[9] = (low >>> 16) & 0xff;
  b[10] = (low >>> 8) & 0xff;
  b[11] = low & 0xff;
  b.set(random.subarray(0, 4), 12);
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[b[i] as number];
  }
  return out;
}

const shared = new UuidV7Generator();

/**
 * A new UUIDv7 (RFC 9562): time-ordered, monotonic within this process, 74 bits of it random or a
 * randomly seeded counter.
 *
 * @example
 * ```ts
 * const id = uuidv7(); // '01890a5d-ac96-774b-bcce-b302099a8057'
 * id < uuidv7(); // true
 * ```
 */
export function uuidv7(): string {
  return shared.next();
}

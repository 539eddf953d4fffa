import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UuidV7Generator, uuidv7 } from '../../../adapters/outbox/uuid-v7.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 16 bytes of a UUID string. */
function bytesOf(id: string): Buffer {
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

/** The 48-bit Unix-millisecond timestamp of a UUIDv7. */
function msOf(id: string): number {
  return bytesOf(id).readUIntBE(0, 6);
}

describe('uuidv7()', () => {
  it('makes RFC 9562 version-7 UUIDs: version nibble 7, variant bits 10, the current Unix ms first', () => {
    const before = Date.now();
    const ids = Array.from({ length: 1000 }, () => uuidv7());
    const after = Date.now();
    for (const id of ids) {
      expect(id).toMatch(UUID);
      const b = bytesOf(id);
      expect(b[6]! >> 4).toBe(7);
      expect(b[8]! >> 6).toBe(0b10);
      expect(msOf(id)).toBeGreaterThanOrEqual(before);
      expect(msOf(id)).toBeLessThanOrEqual(after + 1);
    }
  });

  it('sorts every id after the one before, also many within one millisecond, and never repeats one', () => {
    const ids = Array.from({ length: 50_000 }, () => uuidv7());
    for (let i = 1; i < ids.length; i++)
      expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} < ${ids[i]}`).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map(msOf)).size).toBeLessThan(ids.length); // several per millisecond happened
  });
});

describe('UuidV7Generator.next()', () => {
  it('stays in order within one millisecond and when the wall clock steps back', () => {
    let clock = 1_700_000_000_000;
    const gen = new UuidV7Generator(() => clock);
    const a = gen.next();
    const b = gen.next(); // same millisecond: the counter goes up
    clock -= 5_000; // NTP stepped the clock back
    const c = gen.next();
    clock += 10_000;
    const d = gen.next();
    expect([a, b, c, d]).toEqual([a, b, c, d].slice().sort());
    expect(new Set([a, b, c, d]).size).toBe(4);
    expect([a, b, c].map(msOf)).toEqual([1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_000]);
    expect(msOf(d)).toBe(1_700_000_005_000);
  });

  it('seeds the counter of a new millisecond below 2^41 and counts up from there', () => {
    const clock = 1_700_000_000_000;
    // All-ones random bytes: the counter is seeded at its highest start, 2^41 - 1.
    const gen = new UuidV7Generator(
      () => clock,
      (bytes) => void bytes.fill(0xff),
    );
    const first = gen.next();
    expect(msOf(first)).toBe(clock);
    // Counter bits: rand_a (12) and the 30 bits after the variant.
    const counter = (id: string): number => {
      const b = bytesOf(id);
      return ((b[6]! & 0x0f) * 256 + b[7]!) * 2 ** 30 + (b[8]! & 0x3f) * 2 ** 24 + b.readUIntBE(9, 3);
    };
    expect(counter(first)).toBe(2 ** 41 - 1);
    const second = gen.next();
    expect(counter(second)).toBe(2 ** 41);
    expect(second > first).toBe(true);
  });

  it('takes its random bits from the fill function (74 of them vary between ids)', () => {
    let calls = 0;
    const gen = new UuidV7Generator(
      () => 1,
      (bytes) => {
        calls++;
        randomFillSync(bytes);
      },
    );
    const ids = Array.from({ length: 200 }, () => gen.next());
    expect(calls).toBeGreaterThan(1); // the pool is refilled, not reused
    expect(new Set(ids.map((id) => id.slice(-8))).size).toBeGreaterThan(190); // last 32 bits random
  });
});

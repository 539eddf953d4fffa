import { describe, expect, it } from 'vitest';
import { CancelLedger } from '../../../adapters/postgres/cancel-ledger.js';

describe('CancelLedger', () => {
  it('claim() blames a failure on a cancel sent and not yet acknowledged', () => {
    const ledger = new CancelLedger();
    expect(ledger.claim(5)).toBe(false); // nothing sent: someone else's cancel
    ledger.sent();
    expect(ledger.claim(5)).toBe(true);
  });

  it('claim() blames at most two failures on one cancel (the postmaster signals process and group)', () => {
    const ledger = new CancelLedger();
    ledger.sent();
    expect(ledger.claim(3)).toBe(true);
    expect(ledger.claim(4)).toBe(true);
    expect(ledger.claim(5)).toBe(false);
    expect(ledger.size).toBe(0);
  });

  it('claim() blames only statements written before the server took the cancel', () => {
    const ledger = new CancelLedger();
    const ticket = ledger.sent();
    ledger.acknowledged(ticket, 10); // statements 10 and later were written after the ack
    expect(ledger.claim(10)).toBe(false);
    expect(ledger.claim(11)).toBe(false);
    expect(ledger.claim(9)).toBe(true);
  });

  it('answered() ends a cancel once a statement written after its acknowledgement is answered', () => {
    const ledger = new CancelLedger();
    const ticket = ledger.sent();
    ledger.answered(50); // not acknowledged yet: it may still land anywhere
    expect(ledger.size).toBe(1);
    ledger.acknowledged(ticket, 7);
    ledger.answered(6);
    expect(ledger.size).toBe(1);
    ledger.answered(7);
    expect(ledger.size).toBe(0);
    expect(ledger.claim(6)).toBe(false);
  });

  it('keeps each cancel separately: the oldest that can be blamed pays first', () => {
    const ledger = new CancelLedger();
    const first = ledger.sent();
    ledger.sent();
    ledger.acknowledged(first, 4);
    expect(ledger.claim(5)).toBe(true); // only the second (unacknowledged) one can have hit 5
    expect(ledger.claim(3)).toBe(true); // the first
    expect(ledger.claim(3)).toBe(true); // the first's second signal
    expect(ledger.claim(3)).toBe(true); // the second's second signal
    expect(ledger.claim(3)).toBe(false);
  });

  it('mayHaveHit() says whether an open cancel can have reached a statement, using nothing up', () => {
    const ledger = new CancelLedger();
    expect(ledger.mayHaveHit(3)).toBe(false);
    const ticket = ledger.sent();
    expect(ledger.mayHaveHit(3)).toBe(true);
    ledger.acknowledged(ticket, 4);
    expect(ledger.mayHaveHit(3)).toBe(true);
    expect(ledger.mayHaveHit(4)).toBe(false); // written after the server took it
    expect(ledger.mayHaveHit(3)).toBe(true);
    expect(ledger.claim(3)).toBe(true); // still there to be claimed twice
    expect(ledger.claim(3)).toBe(true);
  });
});

/**
 * {@link Credentials}: the broker URLs as amqplib gets them (heartbeat set) and the passwords in
 * them, so that no message, log line or error connkit produces ever shows one.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';
import { redactUrl } from './options.js';

/** AMQP carries the heartbeat in whole seconds in an unsigned short. */
const MAX_HEARTBEAT_SECONDS = 65_535;

/**
 * The URLs to dial and the passwords to mask.
 *
 * @example
 * ```ts
 * const credentials = new Credentials(['amqp://guest:secret@host'], 10_000);
 * credentials.redact('login as guest:secret refused'); // 'login as guest:*** refused'
 * ```
 */
export class Credentials {
  /** URLs as given (for redacted display). */
  readonly given: readonly string[];
  /** URLs handed to amqplib, with the heartbeat (in seconds) unless the URL sets one. */
  readonly dial: readonly string[];
  readonly #passwords: string[] = [];

  /** @param heartbeat ms; rounded to seconds, capped at the protocol's 65 535 s (Infinity too) */
  constructor(urls: readonly string[], heartbeat: number) {
    this.given = urls;
    const seconds = String(Math.min(MAX_HEARTBEAT_SECONDS, Math.round(heartbeat / 1000)));
    this.dial = urls.map((url) => {
      const parsed = new URL(url);
      if (parsed.password) this.#passwords.push(decodeURIComponent(parsed.password), parsed.password);
      if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', seconds);
      return parsed.toString();
    });
  }

  /** URL number `index`, password masked. */
  shown(index: number): string {
    return redactUrl(this.given[index] as string);
  }

  /** Every URL, passwords masked, for messages. */
  get all(): string {
    return this.given.map(redactUrl).join(', ');
  }

  /** `text` with every password masked. */
  redact(text: string): string {
    let out = text;
    for (const p of this.#passwords) if (p) out = out.split(p).join('***');
    return out;
  }

  /** A driver error whose message might quote a password gets it masked (in place); returns `err`. */
  scrub<T>(err: T): T {
    if (err instanceof Error) {
      const masked = this.redact(err.message);
      if (masked !== err.message) err.message = masked;
    }
    return err;
  }

  /** A thrown value as text for a message, passwords masked. */
  describe(err: unknown): string {
    return this.redact(err instanceof Error ? err.message : describeValue(err));
  }
}

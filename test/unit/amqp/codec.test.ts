import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody } from '../../../adapters/amqp/codec.js';
import { redactUrl, resolveBrokerOptions } from '../../../adapters/amqp/options.js';

describe('encodeBody()', () => {
  it('sends bytes as-is, strings as UTF-8 text and everything else as JSON without BOM', () => {
    const bytes = new Uint8Array([0, 255]);
    expect(encodeBody(bytes)).toEqual({
      content: Buffer.from([0, 255]),
      contentType: 'application/octet-stream',
    });
    expect(encodeBody('é')).toEqual({ content: Buffer.from('é', 'utf8'), contentType: 'text/plain' });
    const json = encodeBody({ a: [1, true, null] });
    expect(json.contentType).toBe('application/json');
    expect(json.content.toString('utf8')).toBe('{"a":[1,true,null]}');
    expect(json.content[0]).toBe(0x7b);
    expect(encodeBody(0).content.toString()).toBe('0');
  });

  it('keeps an explicit content type', () => {
    expect(encodeBody({ a: 1 }, 'application/vnd.x+json').contentType).toBe('application/vnd.x+json');
  });

  it('throws TypeError on a body JSON cannot encode', () => {
    expect(() => encodeBody(undefined)).toThrow(TypeError);
    expect(() => encodeBody(() => 1)).toThrow(TypeError);
  });
});

describe('decodeBody()', () => {
  it('decodes by media type, ignoring parameters and case', () => {
    expect(decodeBody(Buffer.from('{"a":1}'), 'Application/JSON; charset=utf-8')).toEqual({ a: 1 });
    expect(decodeBody(Buffer.from('[1]'), 'application/problem+json')).toEqual([1]);
    expect(decodeBody(Buffer.from('hi'), 'text/plain; charset=utf-8')).toBe('hi');
  });

  it('never guesses: no content type is bytes even when it looks like JSON', () => {
    const out = decodeBody(Buffer.from('{"a":1}'), undefined);
    expect(Buffer.isBuffer(out)).toBe(true);
  });

  it('throws SyntaxError on declared JSON that does not parse', () => {
    expect(() => decodeBody(Buffer.from('{nope'), 'application/json')).toThrow(SyntaxError);
  });

  it('tolerates a BOM from foreign publishers', () => {
    expect(decodeBody(Buffer.from('\ufeff{"a":2}'), 'application/json')).toEqual({ a: 2 });
  });
});

describe('redactUrl()', () => {
  it('masks the password', () => {
    expect(redactUrl('amqp://guest:secret@host:5672/vh')).toBe('amqp://guest:***@host:5672/vh');
    expect(redactUrl('amqp://host')).toBe('amqp://host');
    expect(redactUrl('nonsense://u:pw@')).not.toContain('pw');
  });
});

describe('resolveBrokerOptions()', () => {
  it('applies the documented defaults', () => {
    const o = resolveBrokerOptions({ url: 'amqp://localhost' });
    expect(o).toMatchObject({
      heartbeat: 10_000,
      connectTimeout: 10_000,
      reconnect: { initialDelay: 200, maxDelay: 30_000, factor: 2 },
      channelMax: 8,
      publishTimeout: 30_000,
      maxPending: 10_000,
    });
  });

  it('rejects bad values quoting them', () => {
    expect(() => resolveBrokerOptions({})).toThrow(TypeError);
    expect(() => resolveBrokerOptions({ url: 'amqp://h', heartbeat: -1 })).toThrow(/-1/);
    expect(() => resolveBrokerOptions({ url: 'amqp://h', maxPending: 0 })).toThrow(RangeError);
    expect(() => resolveBrokerOptions({ url: 'amqp://u:pw@h', reconnect: { factor: 0.5 } })).toThrow(/0\.5/);
    expect(() => resolveBrokerOptions({ urls: ['amqp://u:topsecret@h', 'ftp://x'] })).toThrow(TypeError);
  });
});

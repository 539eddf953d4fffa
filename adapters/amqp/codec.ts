/**
 * Body encoding and decoding per the wire conventions of DESIGN §6, so that other clients
 * (librabbitmq, aio-pika, Java) read what connkit writes and the other way round.
 * @module
 */
import { describeValue } from '../../src/internal/index.js';

/**
 * An encoded body: the bytes to send and the content type to declare.
 *
 * @example
 * ```ts
 * const { content, contentType }: EncodedBody = encodeBody('hi'); // text/plain
 * ```
 */
export interface EncodedBody {
  /** Bytes on the wire. */
  content: Buffer;
  /** `content_type` property to send. */
  contentType: string;
}

/**
 * Content types connkit writes.
 *
 * @example
 * ```ts
 * if (mediaType(msg.properties.contentType) === JSON_TYPE) handleJson(msg);
 * ```
 */
export const JSON_TYPE = 'application/json';
/** `text/plain`: strings. @example `encodeBody('x').contentType === TEXT_TYPE` */
export const TEXT_TYPE = 'text/plain';
/** `application/octet-stream`: bytes. @example `encodeBody(new Uint8Array(1)).contentType === BYTES_TYPE` */
export const BYTES_TYPE = 'application/octet-stream';

/**
 * Encodes a body: `Uint8Array` as-is (`application/octet-stream`), `string` as UTF-8
 * (`text/plain`), anything else as UTF-8 JSON (`application/json`). An explicit `contentType`
 * overrides the declared type, not the encoding.
 *
 * @example
 * ```ts
 * encodeBody({ id: 1 }); // { content: <Buffer 7b 22 69 64 22 3a 31 7d>, contentType: 'application/json' }
 * ```
 */
export function encodeBody(body: unknown, contentType?: string): EncodedBody {
  if (body instanceof Uint8Array) {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return { content, contentType: contentType ?? BYTES_TYPE };
  }
  if (typeof body === 'string')
    return { content: Buffer.from(body, 'utf8'), contentType: contentType ?? TEXT_TYPE };
  const json = JSON.stringify(body) as string | undefined;
  if (json === undefined) throw new TypeError(`body cannot be encoded as JSON: ${describeValue(body)}`);
  return { content: Buffer.from(json, 'utf8'), contentType: contentType ?? JSON_TYPE };
}

/**
 * The media type of a content type, lower-cased, without parameters (`; charset=…`).
 *
 * @example
 * ```ts
 * mediaType('Application/JSON; charset=utf-8'); // 'application/json'
 * ```
 */
export function mediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * Decodes a body by its declared media type: JSON (`application/json`, `*+json`) is parsed (a body
 * that does not parse throws `SyntaxError`), `text/*` becomes a string, anything else — including no
 * content type at all — stays bytes. No guessing.
 *
 * @example
 * ```ts
 * decodeBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8'); // { a: 1 }
 * decodeBody(Buffer.from('{"a":1}'), undefined); // <Buffer …> (bytes: no content type)
 * ```
 */
export function decodeBody(content: Buffer, contentType: string | undefined): unknown {
  const media = mediaType(contentType);
  if (media === JSON_TYPE || media.endsWith('+json')) {
    const text = content.toString('utf8');
    // Tolerate a BOM from foreign publishers; connkit itself never writes one.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
  }
  if (media.startsWith('text/')) return content.toString('utf8');
  return content;
}

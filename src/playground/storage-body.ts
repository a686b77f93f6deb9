import type { IncomingMessage } from 'node:http';
import { badRequest } from './storage-api-error.js';

/** How a request body was read: to its end, stopped on purpose by a fault, or cut by the client. */
export type BodyOutcome = 'ended' | 'stopped' | 'aborted';

/**
 * Feeds the body of `req` to `sink` in order, awaiting each write (so a slow disk slows the client
 * down instead of filling memory). With `stop`, only `afterBytes` bytes reach the sink; then the
 * connection is dropped (`drop`) or the rest of the body is read and discarded, so the client gets
 * the error status the caller answers next instead of a reset connection. A sink that throws (bad
 * input) has the rest of the body discarded the same way, then its error is rethrown.
 */
export async function receiveBody(
  req: IncomingMessage,
  sink: (chunk: Buffer) => Promise<void>,
  stop?: { afterBytes: number; drop: boolean },
): Promise<BodyOutcome> {
  const limit = stop?.afterBytes ?? Number.POSITIVE_INFINITY;
  let seen = 0;
  let refused: unknown;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      const room = Math.max(0, limit - seen);
      seen += chunk.length;
      if (room > 0 && refused === undefined) {
        try {
          await sink(room < chunk.length ? chunk.subarray(0, room) : chunk);
        } catch (error) {
          refused = error;
        }
      }
      if (stop?.drop && seen >= limit) {
        req.socket.destroy();
        return 'stopped';
      }
    }
  } catch {
    // The client went away mid-body: keep what arrived.
    if (refused !== undefined) throw refused;
    return 'aborted';
  }
  if (refused !== undefined) throw refused;
  return seen >= limit ? 'stopped' : 'ended';
}

const HEAD_LIMIT = 1024 * 1024;

/**
 * A streaming reader of the `multipart/related` body of a multipart upload: a JSON metadata part,
 * then the media part, which goes to `media` as it arrives (held back only by the length of the
 * closing boundary, so the boundary never reaches the stored bytes).
 */
export class MultipartReader {
  metadata: Record<string, unknown> = {};
  mediaType: string | undefined;
  readonly #open: Buffer;
  readonly #between: Buffer;
  readonly #closing: Buffer;
  readonly #media: (chunk: Buffer) => Promise<void>;
  #head: Buffer | undefined = Buffer.alloc(0) as Buffer;
  #held: Buffer = Buffer.alloc(0);

  constructor(boundary: string, media: (chunk: Buffer) => Promise<void>) {
    this.#open = Buffer.from(`--${boundary}\r\n`);
    this.#between = Buffer.from(`\r\n--${boundary}\r\n`);
    this.#closing = Buffer.from(`\r\n--${boundary}--`);
    this.#media = media;
  }

  /** The boundary of a `multipart/related; boundary=...` content type; 400 when there is none. */
  static boundaryOf(contentType: string | undefined): string {
    const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
    const boundary = match?.[1] ?? match?.[2];
    if (!/^multipart\/related/i.test(contentType ?? '') || !boundary) {
      throw badRequest(
        `a multipart upload needs Content-Type multipart/related with a boundary, got "${contentType}"`,
      );
    }
    return boundary;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#head) {
      this.#head = Buffer.concat([this.#head, chunk]);
      const rest = this.#parseHead(this.#head);
      if (rest === undefined) {
        if (this.#head.length > HEAD_LIMIT) throw badRequest('multipart metadata part is larger than 1 MiB');
        return;
      }
      this.#head = undefined;
      chunk = rest;
    }
    this.#held = this.#held.length ? Buffer.concat([this.#held, chunk]) : chunk;
    const keep = this.#closing.length + 4;
    if (this.#held.length > keep) {
      await this.#media(this.#held.subarray(0, this.#held.length - keep));
      this.#held = Buffer.from(this.#held.subarray(this.#held.length - keep));
    }
  }

  /** Call when the body has ended: checks the closing boundary and writes the last media bytes. */
  async end(): Promise<void> {
    if (this.#head) throw badRequest('multipart body ended before its media part');
    const at = this.#held.lastIndexOf(this.#closing);
    if (at < 0) throw badRequest('multipart body does not end with its closing boundary');
    await this.#media(this.#held.subarray(0, at));
    this.#held = Buffer.alloc(0);
  }

  // Returns the media bytes that follow the media part's headers, or undefined while more is needed.
  #parseHead(head: Buffer): Buffer | undefined {
    let at = head.indexOf(this.#open);
    if (at < 0) return undefined;
    at += this.#open.length;
    const metaHeadersEnd = head.indexOf('\r\n\r\n', at);
    if (metaHeadersEnd < 0) return undefined;
    const metaEnd = head.indexOf(this.#between, metaHeadersEnd + 4);
    if (metaEnd < 0) return undefined;
    const mediaHeadersStart = metaEnd + this.#between.length;
    const mediaHeadersEnd = head.indexOf('\r\n\r\n', mediaHeadersStart);
    if (mediaHeadersEnd < 0) return undefined;
    const metadataText = head.subarray(metaHeadersEnd + 4, metaEnd).toString('utf8');
    try {
      const parsed: unknown = JSON.parse(metadataText || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      this.metadata = parsed as Record<string, unknown>;
    } catch {
      throw badRequest('multipart metadata part is not a JSON object');
    }
    const mediaHeaders = head.subarray(mediaHeadersStart, mediaHeadersEnd).toString('latin1');
    this.mediaType = /^content-type:\s*(.+)$/im.exec(mediaHeaders)?.[1]?.trim();
    return head.subarray(mediaHeadersEnd + 4);
  }
}

import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StorageApiError } from './storage-api-error.js';
import type { StoredObject } from './storage-buckets.js';
import type { StorageFault } from './storage-faults.js';
import { etagOf } from './storage-resource.js';

/** An inclusive byte range of an object. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The range a `Range` header asks of an object `size` bytes long: `bytes=S-E`, `bytes=S-` or
 * `bytes=-N` (the last N). Undefined means the whole object (no header, a form this emulator does not
 * serve such as several ranges, or an empty object); 416 when the range starts past the end.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match || (match[1] === '' && match[2] === '') || size === 0) return undefined;
  if (match[1] === '') {
    const last = Math.min(Number(match[2]), size);
    if (last === 0) throw unsatisfiable(size);
    return { start: size - last, end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): StorageApiError {
  return new StorageApiError(
    416,
    'requestedRangeNotSatisfiable',
    `The requested range cannot be satisfied (object has ${size} bytes).`,
  );
}

/**
 * Streams an object's stored bytes (all, or the requested range as 206) with the headers the client
 * validates against: `x-goog-hash` carries the hashes recorded at upload, so bytes corrupted since
 * then fail the client's check. A fault with `afterBytes` sends that many bytes, then drops.
 */
export function sendMedia(
  req: IncomingMessage,
  res: ServerResponse,
  object: StoredObject,
  fault: StorageFault | undefined,
): Promise<void> {
  const range = parseRange(req.headers.range, object.size);
  const headers: Record<string, string | number> = {
    'content-type': object.contentType,
    'content-length': range ? range.end - range.start + 1 : object.size,
    etag: etagOf(object),
    'last-modified': new Date(object.updated).toUTCString(),
    'accept-ranges': 'bytes',
    'x-goog-generation': object.generation,
    'x-goog-metageneration': object.metageneration,
    'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': object.size,
  };
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${object.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (object.size === 0) {
    res.end();
    return Promise.resolve();
  }
  const stream = createReadStream(object.file, range ?? {});
  const dropAfter = fault?.afterBytes;
  let sent = 0;
  return new Promise((resolve) => {
    const finish = () => resolve();
    stream.on('data', (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (dropAfter !== undefined && sent + bytes.length >= dropAfter) {
        res.write(bytes.subarray(0, dropAfter - sent), () => res.socket?.destroy());
        stream.destroy();
        finish();
        return;
      }
      sent += bytes.length;
      if (!res.write(bytes)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      res.end();
      finish();
    });
    stream.on('error', () => {
      res.socket?.destroy();
      finish();
    });
    res.on('close', () => {
      stream.destroy();
      finish();
    });
  });
}

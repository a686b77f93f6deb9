import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { crc32 } from 'node:zlib';

/** What a HashingStream saw: byte count, SHA-256 (hex) and CRC-32 (unsigned). */
export interface Digest {
  size: number;
  sha256: string;
  crc32: number;
}

/**
 * A pass-through that hashes the bytes as they flow (SHA-256 and the ZIP's CRC-32), so nothing is
 * read twice. `digest()` is valid once the stream has finished.
 */
export class HashingStream extends Transform {
  #sha: Hash = createHash('sha256');
  #crc = 0;
  #size = 0;
  #final: Digest | undefined;

  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#sha.update(chunk);
    this.#crc = crc32(chunk, this.#crc);
    this.#size += chunk.length;
    this.onBytes?.(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#final = { size: this.#size, sha256: this.#sha.digest('hex'), crc32: this.#crc >>> 0 };
    callback();
  }

  digest(): Digest {
    if (!this.#final) throw new Error('HashingStream.digest() called before the stream finished');
    return this.#final;
  }
}

/** A sink that discards everything (the bytes were only wanted for their hashes). */
export function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/** Size, SHA-256 and CRC-32 of bytes fed in pieces, without a stream. */
export class Digester {
  readonly #sha: Hash = createHash('sha256');
  #crc = 0;
  #size = 0;

  update(data: Buffer): void {
    this.#sha.update(data);
    this.#crc = crc32(data, this.#crc);
    this.#size += data.length;
  }

  digest(): Digest {
    return { size: this.#size, sha256: this.#sha.digest('hex'), crc32: this.#crc >>> 0 };
  }
}

/** Size, SHA-256 and CRC-32 of bytes in memory. */
export function digestOf(data: Buffer): Digest {
  const digester = new Digester();
  digester.update(data);
  return digester.digest();
}

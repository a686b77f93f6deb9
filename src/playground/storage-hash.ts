import { createHash, type Hash } from 'node:crypto';

/** The CRC32C implementation the hasher uses: the shape of @google-cloud/storage's `CRC32C` class. */
export interface Crc32cLike {
  update(data: Buffer): void;
  toString(): string;
}

export type Crc32cFactory = () => Crc32cLike;

/**
 * Loads the CRC32C of @google-cloud/storage: the very code the client validates with, so the
 * emulator and the client cannot disagree about a checksum, and no second table-driven copy lives in
 * this repository. Loaded when the storage emulator starts, not when the playground module is imported.
 */
export async function loadCrc32c(): Promise<Crc32cFactory> {
  const { CRC32C } = await import('@google-cloud/storage');
  return () => new CRC32C();
}

/** Both hashes Cloud Storage keeps for an object, base64 as its JSON API shows them. */
export interface ObjectHashes {
  crc32c: string;
  md5Hash: string;
}

/** CRC32C and MD5 of a byte stream fed in order, possibly across several requests (resumable uploads). */
export class ObjectHasher {
  readonly #crc: Crc32cLike;
  readonly #md5: Hash = createHash('md5');

  constructor(crc32c: Crc32cFactory) {
    this.#crc = crc32c();
  }

  update(data: Buffer): void {
    this.#crc.update(data);
    this.#md5.update(data);
  }

  /** The hashes of everything fed so far; call once. */
  digest(): ObjectHashes {
    return { crc32c: this.#crc.toString(), md5Hash: this.#md5.digest('base64') };
  }
}

/**
 * Parses an `X-Goog-Hash` header (`crc32c=AAAAAA==,md5=...`) into the hashes it names; names other
 * than crc32c and md5 are ignored.
 */
export function parseGoogHash(header: string | undefined): Partial<ObjectHashes> {
  const out: Partial<ObjectHashes> = {};
  for (const pair of (header ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const key = pair.slice(0, at).trim().toLowerCase();
    const value = pair.slice(at + 1).trim();
    if (key === 'crc32c') out.crc32c = value;
    if (key === 'md5') out.md5Hash = value;
  }
  return out;
}

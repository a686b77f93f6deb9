import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { FatalError, UsageError, wrapError } from '../core/errors.js';
import { loadAge } from './encrypt.js';
import { OffsiteCode } from './offsite-errors.js';

/** The age identities (secret keys) of an identity file, checked. */
export interface Identities {
  /** The file they came from, as given: messages name it. */
  file: string;
  /** `AGE-SECRET-KEY-1...` (or `AGE-SECRET-KEY-PQ-1...`) lines. Never logged. */
  keys: string[];
}

/**
 * Reads an age identity file (what `age-keygen -o FILE` writes: `AGE-SECRET-KEY-1...` lines, `#`
 * comments, blank lines). Throws UsageError naming the file and what is wrong: missing, unreadable,
 * a folder, a passphrase-encrypted or SSH key file, a line that is not an identity (by line number:
 * a key is never echoed), or no identity at all. Loads the age library to check each key.
 */
export async function readIdentityFile(file: string): Promise<Identities> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`--identity ${file}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`--identity ${file}: a folder, not an age identity file`);
    throw new UsageError(`--identity ${file}: cannot read it (${code ?? (error as Error).message})`);
  }
  const bad = (why: string) => new UsageError(`--identity ${file}: ${why}`);
  if (text.startsWith('age-encryption.org/'))
    throw bad('it is a passphrase-encrypted identity file; decrypt it first (age -d -o KEYFILE FILE)');
  if (text.startsWith('-----BEGIN'))
    throw bad('SSH and PEM keys are not taken; give an age identity file (age-keygen -o FILE)');
  const { Decrypter } = await loadAge();
  const keys: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!line.startsWith('AGE-SECRET-KEY-'))
      throw bad(`line ${index + 1} is not an age identity (AGE-SECRET-KEY-1...)`);
    try {
      new Decrypter().addIdentity(line);
    } catch {
      throw bad(`line ${index + 1} is not a valid age identity (a mistyped or cut key?)`);
    }
    keys.push(line);
  }
  if (keys.length === 0) throw bad('it holds no age identity (AGE-SECRET-KEY-1... lines)');
  return { file, keys };
}

/**
 * Decrypts the age file `cipherFile` (downloaded from `source`, named in messages) with `identities`
 * into `toFile`, streaming, and returns the plaintext's size and SHA-256 (hex). age authenticates
 * every 64 KiB chunk and the end of the file, so a damaged or truncated ciphertext never decrypts
 * to wrong bytes silently. `toFile` is removed when this fails. Throws UsageError when none of the
 * identities is a recipient of the file ("none of the identities in FILE can decrypt SOURCE"),
 * FatalError RW_OFFSITE_DECRYPT when it is not an age file or its bytes fail authentication,
 * RW_OFFSITE_LOCAL_IO when reading or writing the local files fails.
 */
export async function decryptFile(
  cipherFile: string,
  identities: Identities,
  toFile: string,
  source: string,
  signal: AbortSignal,
): Promise<{ size: number; sha256: string }> {
  const { Decrypter } = await loadAge();
  const decrypter = new Decrypter();
  for (const key of identities.keys) decrypter.addIdentity(key);
  // Asked only when every real identity declined the file: no key of the file matched. Telling
  // that apart from a damaged header this way does not depend on the library's messages.
  let noneMatched = false;
  decrypter.addIdentity({
    unwrapFileKey: () => {
      noneMatched = true;
      return null;
    },
  });
  const sha256 = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sha256.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    const cipher = Readable.toWeb(createReadStream(cipherFile, { highWaterMark: 1 << 20 }));
    const plain = await decrypter.decrypt(cipher as ReadableStream<Uint8Array>);
    await pipeline(
      Readable.fromWeb(plain as WebReadableStream<Uint8Array>),
      measure,
      createWriteStream(toFile),
      { signal },
    );
  } catch (error) {
    await rm(toFile, { force: true });
    signal.throwIfAborted();
    if (noneMatched)
      throw new UsageError(`none of the identities in ${identities.file} can decrypt ${source}`);
    if (typeof (error as NodeJS.ErrnoException).code === 'string')
      throw wrapError(`decrypt ${source} to ${toFile}`, error, OffsiteCode.localIo);
    throw new FatalError(
      OffsiteCode.decrypt,
      `decrypt ${source}: ${(error as Error).message}; the copy is damaged or not an age file`,
      { cause: error },
    );
  }
  return { size, sha256: sha256.digest('hex') };
}

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageRecipientProblem } from '../src/core/age-recipient.js';
import { UsageError } from '../src/core/errors.js';
import { type CopyStage, copyOffsite, type LocalArchive } from '../src/offsite/copy-offsite.js';
import { decryptFile, readIdentityFile } from '../src/offsite/decrypt.js';
import { AGE_MAGIC, agePayloadSize, encryptFile } from '../src/offsite/encrypt.js';
import { loadCrc32c } from '../src/offsite/crc32c.js';
import { OffsiteCode } from '../src/offsite/offsite-errors.js';
import { restoreSource } from '../src/offsite/restore-source.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { crc32cOf } from './helpers/object-store-contract.js';
import { raceAfterStat } from './helpers/offsite.js';
import { useTempDir } from './helpers/temp.js';

const BUCKET = 'offsite-encrypted';
const signal = () => new AbortController().signal;

let playground: Playground;
/** The key pair the copies are encrypted to, and one that is not theirs. */
let key: { identity: string; recipient: string };
let stranger: { identity: string; recipient: string };

async function keyPair() {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

beforeAll(async () => {
  playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
  key = await keyPair();
  stranger = await keyPair();
});

afterAll(async () => {
  await playground?.stop();
});

/** A store on the bucket with no prefix, as the CLI opens one for a gs:// URL; counts the opens. */
const opened: string[] = [];
function openStore(bucket = BUCKET): Promise<ObjectStore> {
  opened.push(bucket);
  return openGcsObjectStore({
    bucket,
    apiEndpoint: playground.storage.url,
    projectId: playground.storage.project,
    chunkSizeBytes: 256 * 1024,
    resumableThresholdBytes: 256 * 1024,
    retry: { maxRetries: 1, maxDelayMs: 1_000, totalTimeoutMs: 60_000 },
  });
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const inBucket = (name: string) => playground.storage.objects(BUCKET).find((object) => object.name === name);

describe('encrypted off-site copies (age) against the storage emulator with the real client', () => {
  const tempDir = useTempDir('runwarden-offsite-age-');

  /** An archive-like file (ZIP signature, a manifest name, random bytes) in a folder of its own. */
  function archiveOf(size: number): LocalArchive & { bytes: Buffer; dir: string } {
    const dir = tempDir();
    const head = Buffer.from('PK\u0003\u0004\u0014\u0000manifest.json', 'latin1');
    const bytes = Buffer.concat([head, randomBytes(size - head.length)]);
    const file = path.join(dir, 'backup_completo_20261128_030000.zip');
    writeFileSync(file, bytes);
    return { file, dir, bytes, size, sha256: sha256(bytes), manifestSha256: sha256(Buffer.from(file)) };
  }

  /** An identity file as `age-keygen -o FILE` writes it. */
  function identityFile(identity = key.identity, recipient = key.recipient): string {
    const file = path.join(tempDir(), 'key.txt');
    writeFileSync(file, `# created: 2026-11-28T03:00:00Z\n# public key: ${recipient}\n${identity}\n`, {
      mode: 0o600,
    });
    return file;
  }

  async function encryptedCopy(name: string, size = 600_000) {
    const archive = archiveOf(size);
    const stages: CopyStage[] = [];
    const copy = await copyOffsite(await openStore(), archive, name, signal(), {
      encryptTo: [key.recipient],
      onStage: (stage) => stages.push(stage),
    });
    return { archive, copy, stages };
  }

  it('the bucket holds only ciphertext: an age file without the ZIP signature or any plaintext, and the digests of the plaintext archive', async () => {
    const { archive, copy, stages } = await encryptedCopy('runwarden/only-cipher.zip.age');

    expect(stages).toEqual(['encrypting', 'uploading', 'uploaded']);
    const { bytes } = await (await openStore()).read('runwarden/only-cipher.zip.age', {}, signal());
    expect(bytes.subarray(0, AGE_MAGIC.length).toString('latin1')).toBe(AGE_MAGIC);
    expect(bytes.includes(Buffer.from('PK\u0003\u0004', 'latin1'))).toBe(false);
    expect(bytes.includes(Buffer.from('manifest.json'))).toBe(false);
    expect(bytes.includes(archive.bytes.subarray(100_000, 100_064))).toBe(false);
    // Confirmed by the ciphertext's size and CRC32C, as the bucket computed them.
    expect(copy).toMatchObject({ outcome: 'uploaded', size: bytes.length, crc32c: crc32cOf(bytes) });
    expect(bytes.length - agePayloadSize(archive.size)).toBeGreaterThan(0);
    expect(inBucket('runwarden/only-cipher.zip.age')).toMatchObject({
      contentType: 'application/octet-stream',
      metadata: {
        archive_sha256: archive.sha256,
        manifest_sha256: archive.manifestSha256,
        encryption: 'age',
      },
    });
    // The ciphertext made beside the archive is gone.
    expect(readdirSync(archive.dir)).toEqual([path.basename(archive.file)]);
  });

  it('restored with the right identity it gives back the exact archive, and only the plaintext is left in staging', async () => {
    const { archive } = await encryptedCopy('runwarden/round-trip.zip.age');
    const staging = tempDir();

    const fetched = await restoreSource(
      `gs://${BUCKET}/runwarden/round-trip.zip.age`,
      openStore,
      staging,
      signal(),
      {
        identityFile: identityFile(),
      },
    );

    expect(sha256(readFileSync(fetched.file))).toBe(archive.sha256);
    expect(fetched).toMatchObject({
      encrypted: true,
      archiveName: 'round-trip.zip',
      archiveSha256: archive.sha256,
      manifestSha256: archive.manifestSha256,
    });
    expect(path.basename(fetched.file)).toMatch(/^\.runwarden-tmp-.*-round-trip\.zip$/);
    expect(readdirSync(staging)).toEqual([path.basename(fetched.file)]);
    await fetched.remove();
    expect(readdirSync(staging)).toEqual([]);
  });

  it('a full read-back hashes the ciphertext it uploaded', async () => {
    const archive = archiveOf(300_000);
    const stages: CopyStage[] = [];
    const copy = await copyOffsite(await openStore(), archive, 'runwarden/full.zip.age', signal(), {
      encryptTo: [key.recipient, stranger.recipient],
      readBack: 'full',
      onStage: (stage) => stages.push(stage),
    });
    expect(copy.outcome).toBe('uploaded');
    expect(stages).toEqual(['encrypting', 'uploading', 'uploaded', 'reading-back']);
  });

  it('a retry whose first attempt landed is confirmed by its metadata, without encrypting or uploading again', async () => {
    const { archive, copy: first } = await encryptedCopy('runwarden/retried.zip.age');
    const stages: CopyStage[] = [];

    const again = await copyOffsite(await openStore(), archive, 'runwarden/retried.zip.age', signal(), {
      encryptTo: [key.recipient],
      onStage: (stage) => stages.push(stage),
    });

    expect(stages).toEqual(['found']);
    expect(again).toMatchObject({ outcome: 'found', generation: first.generation, crc32c: first.crc32c });
    expect(inBucket('runwarden/retried.zip.age')?.generation).toBe(first.generation);
  });

  it('an encrypted copy landed between the check and the upload (412) is confirmed, and the ciphertext made meanwhile is removed', async () => {
    const archive = archiveOf(400_000);
    const name = 'runwarden/raced.zip.age';
    let landed: number | undefined;
    const racing = raceAfterStat(await openStore(), async (raced, s) => {
      landed = (await copyOffsite(await openStore(), archive, raced, s, { encryptTo: [key.recipient] }))
        .generation;
    });
    const stages: CopyStage[] = [];

    const copy = await copyOffsite(racing, archive, name, signal(), {
      encryptTo: [key.recipient],
      onStage: (stage) => stages.push(stage),
    });

    expect(stages).toEqual(['encrypting', 'uploading', 'found']);
    expect(copy).toMatchObject({ outcome: 'found', generation: landed });
    expect(readdirSync(archive.dir)).toEqual([path.basename(archive.file)]);
  });

  it.each([
    [
      'claiming another archive',
      (a: LocalArchive) => ({
        archive_sha256: 'f'.repeat(64),
        manifest_sha256: a.manifestSha256,
        encryption: 'age',
      }),
      'its archive_sha256 is ffff',
    ],
    [
      'not marked encrypted (the plain archive under the .age name)',
      (a: LocalArchive) => ({ archive_sha256: a.sha256, manifest_sha256: a.manifestSha256 }),
      'it is not marked encrypted',
    ],
    [
      'too small for a ciphertext of the archive',
      (a: LocalArchive) => ({
        archive_sha256: a.sha256,
        manifest_sha256: a.manifestSha256,
        encryption: 'age',
      }),
      'too small for age ciphertext',
    ],
  ])(
    'another object at the name (%s) is refused with RW_OFFSITE_CONFLICT and left untouched',
    async (label, metadata, why) => {
      const store = await openStore();
      const archive = archiveOf(200_000);
      const name = `runwarden/squatted-${label.length}.zip.age`;
      const bytes = label.startsWith('not marked')
        ? archive.bytes
        : randomBytes(label.startsWith('too small') ? 1_000 : 300_000);
      await store.write(name, bytes, { metadata: metadata(archive) }, signal());
      const before = inBucket(name);

      const error = await copyOffsite(store, archive, name, signal(), { encryptTo: [key.recipient] }).catch(
        (caught: unknown) => caught,
      );

      expect(error).toMatchObject({ name: 'FatalError', code: OffsiteCode.conflict });
      expect((error as Error).message).toContain(why);
      expect(inBucket(name)).toEqual(before);
    },
  );

  it('the wrong identity fails clearly, naming the identity file and the copy, and leaves staging empty', async () => {
    await encryptedCopy('runwarden/wrong-key.zip.age', 50_000);
    const staging = tempDir();
    const file = identityFile(stranger.identity, stranger.recipient);
    const url = `gs://${BUCKET}/runwarden/wrong-key.zip.age`;

    const error = await restoreSource(url, openStore, staging, signal(), { identityFile: file }).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`none of the identities in ${file} can decrypt ${url}`);
    expect(readdirSync(staging)).toEqual([]);
  });

  it('an encrypted copy without --identity is refused before any request', async () => {
    const before = opened.length;
    const url = `gs://${BUCKET}/runwarden/any.zip.age`;
    await expect(restoreSource(url, openStore, tempDir(), signal())).rejects.toThrow(
      new UsageError(
        `${url}: this copy is encrypted; pass --identity FILE (an age identity file of a key it was encrypted to)`,
      ),
    );
    expect(opened.length).toBe(before);
  });

  it.each([
    ['missing', (dir: string) => path.join(dir, 'nope.txt'), 'no such file'],
    ['a folder', (dir: string) => dir, 'a folder, not an age identity file'],
    ['only comments', (dir: string) => write(dir, '# public key: age1...\n\n'), 'it holds no age identity'],
    [
      'an SSH key',
      (dir: string) => write(dir, '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n'),
      'SSH and PEM keys are not taken',
    ],
    [
      'passphrase-encrypted',
      (dir: string) => write(dir, 'age-encryption.org/v1\n-> scrypt x 18\n'),
      'it is a passphrase-encrypted identity file; decrypt it first',
    ],
    [
      'a line that is not a key',
      (dir: string) => write(dir, '# ok\n\nsecret-looking-junk\n'),
      'line 3 is not an age identity',
    ],
    [
      'a cut key',
      (dir: string) => write(dir, `${key.identity.slice(0, -3)}\n`),
      'line 1 is not a valid age identity',
    ],
  ])('an identity file that is %s is refused, naming it, before any request', async (_label, make, why) => {
    const dir = tempDir();
    const file = make(dir);
    const before = opened.length;
    const error = await restoreSource(
      `gs://${BUCKET}/runwarden/any.zip.age`,
      openStore,
      tempDir(),
      signal(),
      {
        identityFile: file,
      },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`--identity ${file}: ${why}`);
    expect((error as Error).message).not.toContain('junk');
    expect(opened.length).toBe(before);
  });

  it('a damaged ciphertext never decrypts to wrong bytes: RW_OFFSITE_DECRYPT, no plaintext left', async () => {
    const archive = archiveOf(200_000);
    const cipher = await encryptFile(
      archive.file,
      [key.recipient],
      path.join(archive.dir, 'c.age'),
      signal(),
      await loadCrc32c(),
    );
    const bytes = readFileSync(cipher.file);
    bytes[bytes.length - 70_000] = (bytes[bytes.length - 70_000] as number) ^ 1;
    writeFileSync(cipher.file, bytes);
    const out = path.join(archive.dir, 'plain.zip');

    await expect(
      decryptFile(cipher.file, await readIdentityFile(identityFile()), out, 'gs://b/x.zip.age', signal()),
    ).rejects.toMatchObject({
      name: 'FatalError',
      code: OffsiteCode.decrypt,
      message: expect.stringContaining('gs://b/x.zip.age'),
    });
    expect(readdirSync(archive.dir).sort()).toEqual(['backup_completo_20261128_030000.zip', 'c.age']);
  });

  it('a copy that decrypts to another archive than its metadata names is refused (RW_OFFSITE_MISMATCH)', async () => {
    const archive = archiveOf(100_000);
    const other = archiveOf(100_000);
    const cipher = await encryptFile(
      other.file,
      [key.recipient],
      path.join(other.dir, 'c.age'),
      signal(),
      await loadCrc32c(),
    );
    const name = 'runwarden/swapped.zip.age';
    await (await openStore()).write(
      name,
      readFileSync(cipher.file),
      {
        metadata: {
          archive_sha256: archive.sha256,
          manifest_sha256: archive.manifestSha256,
          encryption: 'age',
        },
      },
      signal(),
    );
    const staging = tempDir();

    await expect(
      restoreSource(`gs://${BUCKET}/${name}`, openStore, staging, signal(), { identityFile: identityFile() }),
    ).rejects.toMatchObject({ code: OffsiteCode.mismatch, message: expect.stringContaining(archive.sha256) });
    expect(readdirSync(staging)).toEqual([]);
  });
});

describe('interoperable with the reference age tool (age and age-keygen)', () => {
  const tempDir = useTempDir('runwarden-offsite-age-cli-');

  it('a key from age-keygen encrypts a copy here that `age -d` opens, and a file from `age -r` decrypts here', async () => {
    const dir = tempDir();
    const keyFile = path.join(dir, 'key.txt');
    const made = spawnSync('age-keygen', ['-o', keyFile], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const recipient = spawnSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).stdout.trim();
    expect(ageRecipientProblem(recipient)).toBeUndefined();
    const plain = path.join(dir, 'archive.zip');
    const bytes = randomBytes(300_000);
    writeFileSync(plain, bytes);

    const cipher = await encryptFile(
      plain,
      [recipient],
      path.join(dir, 'here.age'),
      signal(),
      await loadCrc32c(),
    );
    const opened = spawnSync('age', ['-d', '-i', keyFile, '-o', path.join(dir, 'by-age.zip'), cipher.file]);
    expect(opened.status, String(opened.stderr)).toBe(0);
    expect(sha256(readFileSync(path.join(dir, 'by-age.zip')))).toBe(sha256(bytes));

    const sealed = spawnSync('age', ['-r', recipient, '-o', path.join(dir, 'there.age'), plain]);
    expect(sealed.status, String(sealed.stderr)).toBe(0);
    const back = await decryptFile(
      path.join(dir, 'there.age'),
      await readIdentityFile(keyFile),
      path.join(dir, 'by-us.zip'),
      'there.age',
      signal(),
    );
    expect(back).toEqual({ size: bytes.length, sha256: sha256(bytes) });
  });
});

function write(dir: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'identity.txt');
  writeFileSync(file, text);
  return file;
}

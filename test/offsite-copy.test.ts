import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { RetryableError } from '../src/core/errors.js';
import { type CopyStage, copyOffsite, type LocalArchive } from '../src/offsite/copy-offsite.js';
import { OffsiteCode } from '../src/offsite/offsite-errors.js';
import { offsiteStoreOptions } from '../src/offsite/offsite-options.js';
import type { ObjectStoreOptions } from '../src/storage/client-options.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { crc32cOf } from './helpers/object-store-contract.js';
import { raceAfterStat, useBucketPlayground } from './helpers/offsite.js';
import { useTempDir } from './helpers/temp.js';

const BUCKET = 'offsite-copies';
const PREFIX = 'runwarden/';
const CHUNK = 256 * 1024;
const signal = () => new AbortController().signal;

const playground = useBucketPlayground(BUCKET);

/** The store the config would open, on the emulator: chunks of 256 KiB, retries 1 s apart. */
function openStore(extra: Partial<ObjectStoreOptions> = {}): Promise<ObjectStore> {
  return openGcsObjectStore({
    ...offsiteStoreOptions({
      bucket: BUCKET,
      prefix: PREFIX,
      api_endpoint: playground().storage.url,
      upload_timeout: 3_600_000,
      concurrency: 1,
      read_back: 'metadata',
    }),
    projectId: playground().storage.project,
    chunkSizeBytes: CHUNK,
    resumableThresholdBytes: CHUNK,
    retry: { maxRetries: 2, maxDelayMs: 1_000, totalTimeoutMs: 60_000 },
    ...extra,
  });
}

/** The object as the emulator holds it (bypassing the client). */
function inBucket(name: string) {
  return playground()
    .storage.objects(BUCKET)
    .find((object) => object.name === PREFIX + name);
}

describe('copyOffsite against the storage emulator with the real client', () => {
  const tempDir = useTempDir('runwarden-offsite-');

  /** A local "archive" of `size` random bytes, with its digests as the catalog would hold them. */
  function archiveOf(
    size: number,
    name = 'backup_completo_20261128_030000.zip',
  ): LocalArchive & { bytes: Buffer } {
    const bytes = randomBytes(size);
    const file = path.join(tempDir(), name);
    writeFileSync(file, bytes);
    return {
      file,
      size,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      manifestSha256: createHash('sha256').update(`manifest of ${name}`).digest('hex'),
      bytes,
    };
  }

  it('uploads and confirms: size and CRC32C read back match, the digests and version are in the metadata', async () => {
    const store = await openStore();
    const archive = archiveOf(3 * CHUNK + 1_234);
    const stages: CopyStage[] = [];
    const copy = await copyOffsite(store, archive, 'upload-confirm.zip', signal(), {
      clock: () => 1_700_000_000_000,
      version: '9.9.9',
      onStage: (stage) => stages.push(stage),
    });
    expect(copy).toEqual({
      objectName: 'upload-confirm.zip',
      generation: inBucket('upload-confirm.zip')?.generation,
      size: archive.size,
      crc32c: crc32cOf(archive.bytes),
      confirmedAt: 1_700_000_000_000,
      outcome: 'uploaded',
    });
    expect(stages).toEqual(['uploading', 'uploaded']);
    expect(inBucket('upload-confirm.zip')).toMatchObject({
      size: archive.size,
      crc32c: crc32cOf(archive.bytes),
      contentType: 'application/zip',
      metadata: {
        archive_sha256: archive.sha256,
        manifest_sha256: archive.manifestSha256,
        runwarden_version: '9.9.9',
      },
    });
  });

  it("the archive is read once: the upload's own CRC32C is compared with the bucket's, and only a found object needs the file read again", async () => {
    const store = await openStore();
    const archive = archiveOf(2 * CHUNK + 3);
    let hashers = 0;
    const crc32c = () => {
      hashers += 1;
      return new CRC32C();
    };
    const copy = await copyOffsite(store, archive, 'read-once.zip', signal(), { crc32c });
    expect(copy).toMatchObject({ outcome: 'uploaded', crc32c: crc32cOf(archive.bytes) });
    expect(hashers).toBe(0);
    const again = await copyOffsite(store, archive, 'read-once.zip', signal(), { crc32c });
    expect(again).toMatchObject({ outcome: 'found', crc32c: crc32cOf(archive.bytes) });
    expect(hashers).toBe(1);
  });

  it('a retry whose first attempt landed confirms the object there and uploads nothing', async () => {
    const store = await openStore();
    const archive = archiveOf(50_000);
    const first = await copyOffsite(store, archive, 'retried.zip', signal());
    const stages: CopyStage[] = [];
    const again = await copyOffsite(store, archive, 'retried.zip', signal(), {
      onStage: (stage) => stages.push(stage),
    });
    expect(again).toMatchObject({ outcome: 'found', generation: first.generation, crc32c: first.crc32c });
    expect(stages).toEqual(['found']);
    expect(inBucket('retried.zip')?.generation).toBe(first.generation);
  });

  it('an object created between the check and the upload (412 from ifGenerationMatch 0) is confirmed when it is this archive', async () => {
    const archive = archiveOf(2 * CHUNK + 10);
    const other = await openStore();
    let landed: number | undefined;
    // Another runwarden (a sidecar sharing the volume) copies the same archive right after this one
    // found the name free: this one's upload then meets the real precondition failure.
    const racing = raceAfterStat(await openStore(), async (name, s) => {
      landed = (await copyOffsite(other, archive, name, s)).generation;
    });
    const stages: CopyStage[] = [];
    const copy = await copyOffsite(racing, archive, 'raced.zip', signal(), {
      onStage: (stage) => stages.push(stage),
    });
    expect(stages).toEqual(['uploading', 'found']);
    expect(copy).toMatchObject({ outcome: 'found', generation: landed, size: archive.size });
    expect(inBucket('raced.zip')?.generation).toBe(landed);
  });

  it.each([
    ['other bytes', (archive: LocalArchive) => ({ bytes: randomBytes(archive.size), metadata: undefined })],
    [
      'the same bytes without runwarden metadata (copied by hand)',
      (_archive: LocalArchive, bytes: Buffer) => ({ bytes, metadata: undefined }),
    ],
    [
      'the same bytes claiming another archive',
      (archive: LocalArchive, bytes: Buffer) => ({
        bytes,
        metadata: { archive_sha256: 'f'.repeat(64), manifest_sha256: archive.manifestSha256 },
      }),
    ],
  ])(
    'a different object already at the name (%s) is refused with RW_OFFSITE_CONFLICT and left untouched',
    async (label, make) => {
      const store = await openStore();
      const archive = archiveOf(40_000);
      const name = `conflict-${label.length}.zip`;
      const { bytes, metadata } = make(archive, archive.bytes);
      const squatter = await store.write(name, bytes, metadata ? { metadata } : {}, signal());
      const before = inBucket(name);
      const error = await copyOffsite(store, archive, name, signal()).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: 'FatalError', code: OffsiteCode.conflict });
      expect((error as Error).message).toContain(`generation ${squatter.generation}`);
      expect((error as Error).message).toMatch(/left as it is and nothing was uploaded/);
      expect(inBucket(name)).toEqual(before);
      const back = await store.read(name, {}, signal());
      expect(back.bytes.equals(bytes)).toBe(true);
    },
  );

  it('bytes damaged in the bucket between the upload and a full read-back: the bad copy is removed, a retry makes a good one', async () => {
    const store = await openStore();
    const archive = archiveOf(3 * CHUNK);
    const error = await copyOffsite(store, archive, 'rotten.zip', signal(), {
      readBack: 'full',
      onStage: (stage) => {
        if (stage === 'uploaded') playground().storage.corrupt(BUCKET, `${PREFIX}rotten.zip`);
      },
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'FatalError', code: OffsiteCode.mismatch });
    expect((error as Error).message).toMatch(/hash to SHA-256 .*the archive's is .*was removed/);
    expect(inBucket('rotten.zip')).toBeUndefined();
    const retry = await copyOffsite(store, archive, 'rotten.zip', signal(), { readBack: 'full' });
    expect(retry).toMatchObject({ outcome: 'uploaded', size: archive.size });
  });

  it('a confirmed copy damaged later is caught by a full read-back and left for inspection', async () => {
    const store = await openStore();
    const archive = archiveOf(CHUNK + 5);
    const first = await copyOffsite(store, archive, 'decayed.zip', signal());
    playground().storage.corrupt(BUCKET, `${PREFIX}decayed.zip`, 7);
    // Its recorded size and CRC32C still match: only its bytes tell.
    await expect(copyOffsite(store, archive, 'decayed.zip', signal())).resolves.toMatchObject({
      outcome: 'found',
    });
    await expect(
      copyOffsite(store, archive, 'decayed.zip', signal(), { readBack: 'full' }),
    ).rejects.toMatchObject({
      code: OffsiteCode.mismatch,
    });
    expect(inBucket('decayed.zip')?.generation).toBe(first.generation);
  });

  it('a connection dropped mid-upload is resumed within the copy', async () => {
    const store = await openStore();
    const archive = archiveOf(3 * CHUNK + 99);
    playground().storage.injectFault({
      operation: 'objects.upload',
      bucket: BUCKET,
      object: `${PREFIX}resumed.zip`,
      drop: true,
      afterBytes: CHUNK + 1_000,
    });
    const copy = await copyOffsite(store, archive, 'resumed.zip', signal());
    expect(playground().storage.pendingFaults().faults).toEqual([]);
    expect(copy).toMatchObject({ outcome: 'uploaded', crc32c: crc32cOf(archive.bytes) });
  });

  it('an upload that fails past the client retries is retryable, leaves no object, and the next copy starts over', async () => {
    const store = await openStore({ retry: { maxRetries: 0, maxDelayMs: 1_000, totalTimeoutMs: 60_000 } });
    const archive = archiveOf(3 * CHUNK);
    playground().storage.injectFault({
      operation: 'objects.upload',
      bucket: BUCKET,
      object: `${PREFIX}restarted.zip`,
      drop: true,
      afterBytes: 1_000,
    });
    const error = await copyOffsite(store, archive, 'restarted.zip', signal()).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).code).toMatch(/^RW_STORAGE_(UNAVAILABLE|INTERRUPTED)$/);
    expect(playground().storage.pendingFaults().faults).toEqual([]);
    expect(inBucket('restarted.zip')).toBeUndefined();
    const copy = await copyOffsite(store, archive, 'restarted.zip', signal());
    expect(copy).toMatchObject({ outcome: 'uploaded', size: archive.size });
  });

  it('a copy slower than its timeout fails with the retryable RW_OFFSITE_TIMEOUT', async () => {
    const store = await openStore();
    const archive = archiveOf(1_000);
    playground().storage.injectFault({ operation: 'objects.get', bucket: BUCKET, delayMs: 5_000 });
    try {
      await expect(
        copyOffsite(store, archive, 'slow.zip', signal(), { timeoutMs: 100 }),
      ).rejects.toMatchObject({
        name: 'RetryableError',
        code: OffsiteCode.timeout,
        message: expect.stringContaining('not done within 100ms'),
      });
    } finally {
      playground().storage.clearFaults();
    }
  });

  it('a local archive that changed or vanished is refused before any request', async () => {
    const store = await openStore();
    const archive = archiveOf(1_000);
    await expect(
      copyOffsite(store, { ...archive, size: 999 }, 'changed.zip', signal()),
    ).rejects.toMatchObject({
      code: OffsiteCode.localChanged,
      message: expect.stringContaining('it is 1000 bytes, the catalog says 999'),
    });
    await expect(
      copyOffsite(store, { ...archive, file: `${archive.file}.gone` }, 'changed.zip', signal()),
    ).rejects.toMatchObject({ code: OffsiteCode.localChanged });
    expect(inBucket('changed.zip')).toBeUndefined();
  });

  it('a CRC32C the writer computed that does not match what was stored: mismatch, and the copy removed', async () => {
    const store = await openStore();
    const archive = archiveOf(10_000);
    await expect(
      copyOffsite(
        store,
        { ...archive, crc32c: crc32cOf(Buffer.from('not the archive')) },
        'wrong-crc.zip',
        signal(),
      ),
    ).rejects.toMatchObject({ code: OffsiteCode.mismatch, message: expect.stringContaining('CRC32C') });
    expect(inBucket('wrong-crc.zip')).toBeUndefined();
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/core/errors.js';
import { copyOffsite } from '../src/offsite/copy-offsite.js';
import { parseGsUrl, restoreSource } from '../src/offsite/restore-source.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { useBucketPlayground } from './helpers/offsite.js';
import { useTempDir } from './helpers/temp.js';

const BUCKET = 'restore-bucket';
const signal = () => new AbortController().signal;

const playground = useBucketPlayground(BUCKET);

/** What the CLI would do with the bucket of a gs:// URL: a store on it with no prefix. */
const opened: string[] = [];
function openStore(bucket: string): Promise<ObjectStore> {
  opened.push(bucket);
  return openGcsObjectStore({
    bucket,
    apiEndpoint: playground().storage.url,
    projectId: playground().storage.project,
    retry: { maxRetries: 1, maxDelayMs: 1_000, totalTimeoutMs: 60_000 },
  });
}

describe('restoreSource: an archive in a bucket, downloaded for a normal restore', () => {
  const tempDir = useTempDir('runwarden-offsite-restore-');

  async function uploaded(name: string) {
    const bytes = randomBytes(300_000);
    const file = path.join(tempDir(), 'local.zip');
    writeFileSync(file, bytes);
    const archive = {
      file,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      manifestSha256: 'a'.repeat(64),
    };
    const copy = await copyOffsite(await openStore(BUCKET), archive, name, signal());
    return { bytes, archive, copy };
  }

  it('downloads into the staging folder under a temp name of this process, with the digests recorded at upload', async () => {
    const { bytes, archive, copy } = await uploaded('runwarden/backup_completo_20261128_030000.zip');
    const staging = tempDir();
    const fetched = await restoreSource(
      `gs://${BUCKET}/runwarden/backup_completo_20261128_030000.zip`,
      openStore,
      staging,
      signal(),
    );
    expect(path.dirname(fetched.file)).toBe(staging);
    expect(path.basename(fetched.file)).toMatch(
      new RegExp(`^\\.runwarden-tmp-${process.pid}-[0-9a-f]{8}-backup_completo_20261128_030000\\.zip$`),
    );
    expect(readFileSync(fetched.file).equals(bytes)).toBe(true);
    expect(fetched).toMatchObject({
      bucket: BUCKET,
      objectName: 'runwarden/backup_completo_20261128_030000.zip',
      archiveSha256: archive.sha256,
      manifestSha256: archive.manifestSha256,
      object: { generation: copy.generation, size: bytes.length, crc32c: copy.crc32c },
    });
    await fetched.remove();
    await fetched.remove();
    expect(readdirSync(staging)).toEqual([]);
  });

  it('bytes damaged in the bucket fail the download with RW_STORAGE_CORRUPT and leave nothing in the staging folder', async () => {
    await uploaded('damaged.zip');
    playground().storage.corrupt(BUCKET, 'damaged.zip');
    const staging = tempDir();
    await expect(
      restoreSource(`gs://${BUCKET}/damaged.zip`, openStore, staging, signal()),
    ).rejects.toMatchObject({
      name: 'FatalError',
      code: 'RW_STORAGE_CORRUPT',
    });
    expect(readdirSync(staging)).toEqual([]);
  });

  it('with a generation, downloads that one; once it is replaced, RW_STORAGE_NOT_FOUND says that generation is gone', async () => {
    const { bytes, copy } = await uploaded('pinned.zip');
    const url = `gs://${BUCKET}/pinned.zip`;
    const fetched = await restoreSource(url, openStore, tempDir(), signal(), { generation: copy.generation });
    expect(fetched.object.generation).toBe(copy.generation);
    expect(readFileSync(fetched.file).equals(bytes)).toBe(true);
    await fetched.remove();
    // Someone replaced it (a new generation under the same name): the cataloged copy is gone.
    const store = await openStore(BUCKET);
    await store.delete('pinned.zip', { ifGenerationMatch: copy.generation }, signal());
    await uploaded('pinned.zip');
    const staging = tempDir();
    await expect(
      restoreSource(url, openStore, staging, signal(), { generation: copy.generation }),
    ).rejects.toMatchObject({
      code: 'RW_STORAGE_NOT_FOUND',
      message: expect.stringContaining(`${url}#${copy.generation}`),
    });
    expect(readdirSync(staging)).toEqual([]);
  });

  it('an object that is not there is RW_STORAGE_NOT_FOUND naming it', async () => {
    await expect(
      restoreSource(`gs://${BUCKET}/none.zip`, openStore, tempDir(), signal()),
    ).rejects.toMatchObject({
      code: 'RW_STORAGE_NOT_FOUND',
      message: expect.stringContaining(`gs://${BUCKET}/none.zip`),
    });
  });

  it.each([
    ['/backups/x.zip', 'expected gs://bucket/path/name.zip'],
    ['s3://bucket/x.zip', 'expected gs://bucket/path/name.zip'],
    ['gs://', '"" is not a bucket name'],
    ['gs://Bad_Bucket/x.zip', '"Bad_Bucket" is not a bucket name'],
    ['gs://my-bucket', 'it names a bucket, not an object in it'],
    ['gs://my-bucket/', 'it names a bucket, not an object in it'],
    ['gs://my-bucket/runwarden/', 'it names a folder, not an archive'],
    ['gs://my-bucket/runwarden/*.zip', 'wildcards are not taken: name one archive'],
    ['gs://my-bucket/runwarden/x.tar', 'expected a .zip archive'],
    ['gs://my-bucket/runwarden/x.tar.age', 'expected a .zip archive (or its encrypted copy, .zip.age)'],
    ['gs://my-bucket/a\nb.zip', 'the object name has control characters'],
  ])('%j is refused before any request: %s', async (url, why) => {
    expect(() => parseGsUrl(url)).toThrow(UsageError);
    expect(() => parseGsUrl(url)).toThrow(`${JSON.stringify(url)} is not an archive in a bucket: ${why}`);
    const before = opened.length;
    await expect(restoreSource(url, openStore, tempDir(), signal())).rejects.toMatchObject({
      code: 'RW_USAGE',
    });
    expect(opened.length).toBe(before);
  });

  it('parses a good URL literally', () => {
    expect(parseGsUrl('gs://my.bucket-1/a b/%20c/backup_completo_20261128_030000.zip')).toEqual({
      bucket: 'my.bucket-1',
      objectName: 'a b/%20c/backup_completo_20261128_030000.zip',
      encrypted: false,
      archiveName: 'backup_completo_20261128_030000.zip',
    });
    expect(parseGsUrl('gs://b-1/runwarden/backup_completo_20261128_030000.zip.age')).toEqual({
      bucket: 'b-1',
      objectName: 'runwarden/backup_completo_20261128_030000.zip.age',
      encrypted: true,
      archiveName: 'backup_completo_20261128_030000.zip',
    });
  });
});

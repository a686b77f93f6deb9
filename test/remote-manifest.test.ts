import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupCorruptError } from '../src/archive/errors.js';
import { manifestFingerprint } from '../src/archive/manifest-fingerprint.js';
import { readManifestDigest } from '../src/archive/manifest-read.js';
import { runBackup } from '../src/backup/run-backup.js';
import { EventBus } from '../src/events/event-bus.js';
import { OffsiteMetadata } from '../src/offsite/offsite-errors.js';
import { readRemoteManifest } from '../src/offsite/remote-manifest.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectInfo, ObjectStore } from '../src/storage/object-store.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useBucketPlayground, wrapStore } from './helpers/offsite.js';
import { useTempDir } from './helpers/temp.js';

// A watcher reads an archive's manifest from the bucket by byte ranges, never downloading the
// archive: the bytes it fetches are a small part of a large archive, and what it reads is exactly
// the local manifest.

const BUCKET = 'manifests';
const tempDir = useTempDir('runwarden-remote-manifest-');
const signal = () => new AbortController().signal;
const playground = useBucketPlayground(BUCKET);

/** The real store, counting the ranged reads that reach the emulator and the bytes they return. */
function counting(real: ObjectStore) {
  const seen = { reads: 0, bytes: 0 };
  const store = wrapStore(real, {
    read: async (...args) => {
      const answer = await real.read(...args);
      seen.reads += 1;
      seen.bytes += answer.bytes.length;
      return answer;
    },
  });
  return { store, seen };
}

async function archiveOf(media: Record<string, string | Buffer>) {
  const dir = tempDir();
  makeDataDir(dir, { tenants: ['acme', 'globex'], media });
  const store = Store.open(path.join(dir, 'state'));
  try {
    return await runBackup(
      { reason: 'manual', trigger: 'cli' },
      { config: backupConfigFor(dir), catalog: store.backups, events: new EventBus(), logger: silentLogger },
    );
  } finally {
    store.close();
  }
}

async function upload(file: string, name: string, metadata: Record<string, string> = {}) {
  const store = await openGcsObjectStore({
    bucket: BUCKET,
    apiEndpoint: playground().storage.url,
    projectId: playground().storage.project,
  });
  const info: ObjectInfo = await store.put(file, name, { metadata }, signal());
  return { store, info };
}

const url = (name: string) => `gs://${BUCKET}/${name}`;

describe('reading a manifest from the bucket by byte ranges', () => {
  it('reads the same manifest as the local archive, fetching a small part of a large one', async () => {
    // 8 MiB of media that does not compress: the archive is far larger than what is read.
    const backup = await archiveOf({ 'big.bin': randomBytes(8 * 1024 * 1024), 'note.txt': 'hello' });
    const local = await readManifestDigest(backup.file);
    const { store, info } = await upload(backup.file, 'big.zip', {
      [OffsiteMetadata.manifestSha256]: local.sha256,
    });
    const { store: counted, seen } = counting(store);
    const remote = await readRemoteManifest(counted, info, url('big.zip'), signal());
    expect(remote).toEqual(local);
    expect(seen.reads).toBe(1);
    expect(seen.bytes).toBeLessThan(info.size / 4);
    // What the watcher compares: the main database's and each tenant's schema.
    const fingerprint = manifestFingerprint(remote.manifest, { url: url('big.zip'), takenAt: 1 });
    expect(fingerprint.main).toMatchObject({ userVersion: 0 });
    expect(Object.keys(fingerprint.tenants).sort()).toEqual(['acme', 'globex']);
  });

  it('reads a directory and manifest spanning many blocks, a block per request, never one per entry', async () => {
    const media: Record<string, string> = {};
    // Random names: neither the directory nor the (deflated) manifest compresses much.
    for (let index = 0; index < 2_000; index++)
      media[`photos/${randomBytes(16).toString('hex')}.jpg`] = `p${index}`;
    const backup = await archiveOf(media);
    const local = await readManifestDigest(backup.file);
    const { store, info } = await upload(backup.file, 'many.zip');
    const { store: counted, seen } = counting(store);
    const blockBytes = 16 * 1024;
    const read = await readRemoteManifest(counted, info, url('many.zip'), signal(), { blockBytes });
    expect(read).toEqual(local);
    expect(seen.reads).toBeGreaterThan(4);
    // Each read is a whole block (the last may be short): 2,000 entries do not cost 2,000 requests.
    expect(seen.reads).toBeLessThanOrEqual(Math.ceil(seen.bytes / blockBytes) + 2);
  });

  it('refuses an object that is not a ZIP, naming it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'not.zip');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, randomBytes(5_000));
    const { store, info } = await upload(file, 'not.zip');
    const error = await readRemoteManifest(store, info, url('not.zip'), signal()).catch((caught) => caught);
    expect(error).toBeInstanceOf(BackupCorruptError);
    expect((error as Error).message).toContain(url('not.zip'));
    expect((error as Error).message).toContain('not a readable ZIP');
  });

  it('refuses a manifest that is not the one recorded on upload', async () => {
    const backup = await archiveOf({ 'a.txt': 'a' });
    const { store, info } = await upload(backup.file, 'other.zip', {
      [OffsiteMetadata.manifestSha256]: '0'.repeat(64),
    });
    const error = await readRemoteManifest(store, info, url('other.zip'), signal()).catch((caught) => caught);
    expect(error).toMatchObject({ code: 'RW_OFFSITE_MISMATCH' });
    expect((error as Error).message).toContain(
      `the ${OffsiteMetadata.manifestSha256} recorded on upload is ${'0'.repeat(64)}`,
    );
  });

  it('refuses an object replaced since it was listed, and an encrypted copy, without reading a wrong manifest', async () => {
    const first = await archiveOf({ 'a.txt': 'a' });
    const second = await archiveOf({ 'b.txt': 'b'.repeat(10_000) });
    const { store, info } = await upload(first.file, 'replaced.zip');
    await store.put(second.file, 'replaced.zip', {}, signal());
    const raced = await readRemoteManifest(store, info, url('replaced.zip'), signal()).catch(
      (caught) => caught,
    );
    expect(raced).toMatchObject({ code: 'RW_OFFSITE_RACED' });
    expect((raced as Error).message).toContain('was replaced while its manifest was read');

    const encrypted = { ...info, name: 'replaced.zip.age' };
    const refused = await readRemoteManifest(store, encrypted, url('replaced.zip.age'), signal()).catch(
      (caught) => caught,
    );
    expect(refused).toMatchObject({ code: 'RW_OFFSITE_DECRYPT' });
    expect((refused as Error).message).toContain('is encrypted (age)');
  });
});

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { createBackupService } from '../src/app/backup-service.js';
import { createOffsiteService, withOffsite } from '../src/app/offsite-service.js';
import { OFFSITE_FIRST_RETRY_MS } from '../src/core/offsite-backoff.js';
import { copyOffsite } from '../src/offsite/copy-offsite.js';
import { restoreSource } from '../src/offsite/restore-source.js';
import { EventBus } from '../src/events/event-bus.js';
import type { OffsiteCopiedEvent, OffsiteFailedEvent } from '../src/events/offsite-events.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useBucketPlayground } from './helpers/offsite.js';
import { useTempDir } from './helpers/temp.js';

const BUCKET = 'offsite-uploads';
const signal = () => new AbortController().signal;

const playground = useBucketPlayground(BUCKET);

const tempDir = useTempDir('runwarden-offsite-uploader-');

/** The daemon's backup and off-site parts on one folder, with a clock the test moves. */
function parts(offsite: Record<string, unknown> = {}, backup: Record<string, unknown> = {}) {
  const dir = tempDir();
  makeDataDir(dir);
  const config = backupConfigFor(dir, {
    ...backup,
    offsite: {
      bucket: BUCKET,
      prefix: `${path.basename(dir)}/`,
      api_endpoint: playground().storage.url,
      ...offsite,
    },
  });
  const store = Store.open(path.join(dir, 'state'));
  const events = new EventBus();
  let now = Date.now();
  const clock = () => now;
  const offsiteService = createOffsiteService({
    config: withOffsite(config) ?? expect.fail('offsite is configured'),
    store: () => store,
    events,
    logger: silentLogger,
    clock,
  });
  const backups = createBackupService({
    config,
    store: () => store,
    events,
    logger: silentLogger,
    onBackedUp: () => offsiteService.uploader.kick(),
  });
  const copied: OffsiteCopiedEvent[] = [];
  const failed: OffsiteFailedEvent[] = [];
  events.on('offsite:copied', (event) => copied.push(event));
  events.on('offsite:failed', (event) => failed.push(event));
  const prefix = `${path.basename(dir)}/`;
  return {
    config,
    store,
    events,
    uploader: offsiteService.uploader,
    backups,
    copied,
    failed,
    prefix,
    advance: (ms: number) => {
      now += ms;
    },
    objects: () =>
      playground()
        .storage.objects(BUCKET)
        .filter((object) => object.name.startsWith(prefix)),
  };
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('the off-site uploader against the storage emulator with the real client', () => {
  it('copies a verified backup and records the confirmed copy (object URL and generation) in the catalog', async () => {
    const { backups, uploader, store, objects, prefix, copied } = parts();
    const backup = await backups.run({ reason: 'manual', trigger: 'cli' });
    expect(store.backups.offsitePending().map((row) => row.file)).toEqual([backup.file]);

    const outcome = await uploader.drain(signal());

    expect(outcome).toEqual({ copied: [backup.file], failed: [], pending: 0 });
    const [object] = objects();
    expect(object?.name).toBe(prefix + path.basename(backup.file));
    const row = store.backups.get(backup.file);
    expect(row?.offsite).toMatchObject({
      objectName: `gs://${BUCKET}/${prefix}${path.basename(backup.file)}`,
      generation: object?.generation,
      attempts: 0,
      error: null,
    });
    expect(row?.offsite?.confirmedAt).not.toBeNull();
    expect(object?.metadata).toMatchObject({ archive_sha256: sha256(backup.file) });
    expect(copied.map((event) => event.outcome)).toEqual(['uploaded']);
    expect(store.backups.offsitePending()).toEqual([]);
  });

  it('keeps every archive while the bucket refuses, then catches up oldest first once it answers', async () => {
    const { backups, uploader, store, advance, failed, copied, objects } = parts();
    const files: string[] = [];
    for (let i = 0; i < 3; i++) files.push((await backups.run({ reason: 'manual', trigger: 'cli' })).file);
    // An expired credential: every request is refused (403 is not retried by the client).
    playground().storage.injectFault({ operation: '*', bucket: BUCKET, status: 403, times: 1_000 });
    try {
      const first = await uploader.drain(signal());
      expect(first.copied).toEqual([]);
      expect(first.failed.map((each) => [each.file, each.code])).toEqual(
        files.map((file) => [file, 'RW_STORAGE_DENIED']),
      );
      expect(first.pending).toBe(3);
      expect(failed.map((event) => event.attempts)).toEqual([1, 1, 1]);
      // Not due again before the backoff: a pass now tries nothing.
      expect((await uploader.drain(signal())).failed).toEqual([]);
      advance(OFFSITE_FIRST_RETRY_MS);
      expect((await uploader.drain(signal())).failed).toHaveLength(3);
      const rows = files.map((file) => store.backups.get(file)?.offsite);
      expect(rows.map((row) => row?.attempts)).toEqual([2, 2, 2]);
      expect(rows[0]?.error).toContain('403');
    } finally {
      playground().storage.clearFaults();
    }
    expect(objects()).toEqual([]);

    advance(2 * OFFSITE_FIRST_RETRY_MS);
    const caughtUp = await uploader.drain(signal());

    expect(caughtUp).toEqual({ copied: files, failed: [], pending: 0 });
    expect(copied.map((event) => event.file)).toEqual(files);
    expect(objects()).toHaveLength(3);
  });

  it('stores the copy in the configured storage class', async () => {
    const { backups, uploader, objects } = parts({ storage_class: 'NEARLINE' });
    await backups.run({ reason: 'manual', trigger: 'cli' });
    expect((await uploader.drain(signal())).copied).toHaveLength(1);
    expect(objects().map((object) => object.storageClass)).toEqual(['NEARLINE']);
  });

  it('local retention keeps an archive until its copy is confirmed, then prunes it', async () => {
    const { backups, uploader, store, advance } = parts(
      {},
      { retention: { keep_within: '0s', keep_last: 1 } },
    );
    playground().storage.injectFault({ operation: '*', bucket: BUCKET, status: 403, times: 1_000 });
    let older: string;
    try {
      older = (await backups.run({ reason: 'manual', trigger: 'cli' })).file;
      await backups.run({ reason: 'manual', trigger: 'cli' });
      await uploader.drain(signal());
      const held = await backupsPrune(backups);
      const decision = held.decisions.find((each) => each.file === older);
      expect(decision).toMatchObject({ keep: true, deleted: false });
      expect(decision?.reasons.join()).toContain('not confirmed off-site');
    } finally {
      playground().storage.clearFaults();
    }
    advance(OFFSITE_FIRST_RETRY_MS);
    await uploader.drain(signal());
    expect(store.backups.offsitePending()).toEqual([]);
    const pruned = await backupsPrune(backups);
    expect(pruned.deleted).toEqual([older]);
  });
});

describe('the off-site uploader with encryption.recipients', () => {
  it('copies each archive as age ciphertext named <archive>.age, records it, and leaves no ciphertext in the backup folder', async () => {
    const { identity, recipient } = await ageKeyPair();
    const { backups, uploader, store, objects, prefix, config } = parts({
      encryption: { recipients: [recipient] },
    });
    const backup = await backups.run({ reason: 'manual', trigger: 'cli' });

    const outcome = await uploader.drain(signal());

    expect(outcome).toEqual({ copied: [backup.file], failed: [], pending: 0 });
    const name = `${prefix}${path.basename(backup.file)}.age`;
    expect(objects().map((object) => object.name)).toEqual([name]);
    expect(store.backups.get(backup.file)?.offsite).toMatchObject({
      objectName: `gs://${BUCKET}/${name}`,
      generation: objects()[0]?.generation,
    });
    expect(objects()[0]?.metadata).toMatchObject({ archive_sha256: sha256(backup.file), encryption: 'age' });
    expect(readdirSync(config.dir).filter((entry) => entry.startsWith('.runwarden-tmp-'))).toEqual([]);

    // Only the identity opens it, and it opens to the very archive.
    const identityFile = path.join(config.dir, '..', 'identity.txt');
    writeFileSync(identityFile, `# public key: ${recipient}\n${identity}\n`);
    const fetched = await restoreSource(`gs://${BUCKET}/${name}`, openBucket, config.dir, signal(), {
      identityFile,
    });
    try {
      expect(sha256(fetched.file)).toBe(sha256(backup.file));
      expect(readFileSync(fetched.file).subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004');
    } finally {
      await fetched.remove();
    }
  });

  it('a retry after a copy landed unrecorded confirms the object there without a second upload', async () => {
    const { recipient } = await ageKeyPair();
    const { backups, uploader, store, objects, copied, prefix } = parts({
      encryption: { recipients: [recipient] },
    });
    const backup = await backups.run({ reason: 'manual', trigger: 'cli' });
    // The first attempt's upload landed, and the process died before the catalog heard of it.
    const row = store.backups.get(backup.file) ?? expect.fail('cataloged');
    const landed = await copyOffsite(
      await openBucket(BUCKET, prefix),
      { file: row.file, size: row.size, sha256: row.sha256, manifestSha256: row.manifestSha256 ?? '' },
      `${path.basename(backup.file)}.age`,
      signal(),
      { encryptTo: [recipient] },
    );

    const outcome = await uploader.drain(signal());

    expect(outcome.copied).toEqual([backup.file]);
    expect(copied.map((event) => event.outcome)).toEqual(['found']);
    expect(objects().map((object) => object.generation)).toEqual([landed.generation]);
    expect(store.backups.get(backup.file)?.offsite?.generation).toBe(landed.generation);
  });
});

async function ageKeyPair() {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** A store on the emulator's bucket, as the CLI opens one for a gs:// URL (or under a prefix). */
function openBucket(bucket: string, prefix?: string) {
  return openGcsObjectStore({
    bucket,
    ...(prefix ? { prefix } : {}),
    apiEndpoint: playground().storage.url,
    projectId: playground().storage.project,
  });
}

/** Local retention as the scheduled job applies it. */
async function backupsPrune(backups: ReturnType<typeof parts>['backups']) {
  return backups.prune({ dryRun: false, signal: signal() });
}

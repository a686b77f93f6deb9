import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/core/errors.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import type { ObjectStoreOptions } from '../src/storage/client-options.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import { crc32cOf, objectStoreContract } from './helpers/object-store-contract.js';
import { useTempDir } from './helpers/temp.js';

const BUCKET = 'offsite-bucket';
const CHUNK = 256 * 1024;
const signal = () => new AbortController().signal;

let playground: Playground;
let buckets = 0;

beforeAll(async () => {
  playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
});

afterAll(async () => {
  await playground?.stop();
});

/** The adapter on the emulator; retries 1 s apart (the client's shortest), small pages and chunks. */
function options(extra: Partial<ObjectStoreOptions> = {}): ObjectStoreOptions {
  return {
    bucket: BUCKET,
    apiEndpoint: playground.storage.url,
    projectId: playground.storage.project,
    chunkSizeBytes: CHUNK,
    resumableThresholdBytes: CHUNK,
    pageSize: 2,
    retry: { maxRetries: 2, maxDelayMs: 1_000, totalTimeoutMs: 60_000 },
    ...extra,
  };
}

objectStoreContract('Cloud Storage adapter on the playground emulator', async () => {
  // A bucket of its own, so the contract sees an empty store.
  buckets += 1;
  const bucket = `contract-bucket-${buckets}`;
  playground.storage.createBucket(bucket);
  return {
    store: await openGcsObjectStore(options({ bucket, prefix: 'runwarden/' })),
    close: async () => {},
  };
});

describe('Cloud Storage adapter: faults of the emulator reach the caller as runwarden errors', () => {
  const tempDir = useTempDir();
  const localFile = (bytes: Buffer) => {
    const file = path.join(tempDir(), 'archive.zip');
    writeFileSync(file, bytes);
    return file;
  };

  it('a resumable put larger than the chunk size resumes after a dropped connection', async () => {
    const store = await openGcsObjectStore(options());
    // An unconditional write first: under the client's default idempotency strategy it would have
    // switched retries (and so resumption) off for every later call of this store.
    await store.write('plain.txt', Buffer.from('no precondition'), {}, signal());
    const bytes = randomBytes(3 * CHUNK + 777);
    playground.storage.injectFault({
      operation: 'objects.upload',
      bucket: BUCKET,
      drop: true,
      afterBytes: 100_000,
    });
    const put = await store.put(localFile(bytes), 'resumed.zip', { ifAbsent: true }, signal());
    // The CRC32C the upload computed is of the file's bytes, each once, whatever was sent again.
    expect(put).toMatchObject({ size: bytes.length, crc32c: crc32cOf(bytes), sentCrc32c: crc32cOf(bytes) });
    expect(playground.storage.pendingFaults().faults).toEqual([]);
    const target = path.join(tempDir(), 'back.zip');
    await store.download('resumed.zip', target, signal());
    expect(readFileSync(target).equals(bytes)).toBe(true);
  });

  it('put reports the CRC32C of the bytes it sent, in one request and resumable', async () => {
    const store = await openGcsObjectStore(options());
    for (const [name, size] of [
      ['one-request.zip', CHUNK - 1],
      ['chunked.zip', 2 * CHUNK + 5],
    ] as const) {
      const bytes = randomBytes(size);
      const put = await store.put(localFile(bytes), name, { ifAbsent: true }, signal());
      expect(put, name).toMatchObject({ crc32c: crc32cOf(bytes), sentCrc32c: crc32cOf(bytes) });
    }
  });

  it('an upload failing with 503 past its retries is a RetryableError RW_STORAGE_UNAVAILABLE', async () => {
    const store = await openGcsObjectStore(
      options({ retry: { maxRetries: 1, maxDelayMs: 1_000, totalTimeoutMs: 60_000 } }),
    );
    playground.storage.injectFault({
      operation: 'objects.upload',
      bucket: BUCKET,
      status: 503,
      afterBytes: 1_000,
      times: 5,
    });
    try {
      await expect(
        store.put(localFile(randomBytes(2 * CHUNK)), 'unavailable.zip', { ifAbsent: true }, signal()),
      ).rejects.toMatchObject({ name: 'RetryableError', code: 'RW_STORAGE_UNAVAILABLE' });
    } finally {
      playground.storage.clearFaults();
    }
    expect(await store.stat('unavailable.zip', signal())).toBeUndefined();
  });

  it('503 on a read past the retries is RW_STORAGE_UNAVAILABLE (retryable); 403 is RW_STORAGE_DENIED (fatal)', async () => {
    const store = await openGcsObjectStore(
      options({ retry: { maxRetries: 0, maxDelayMs: 1_000, totalTimeoutMs: 60_000 } }),
    );
    await store.write('guarded.txt', Buffer.from('x'), {}, signal());
    playground.storage.injectFault({ operation: 'objects.get', bucket: BUCKET, status: 503 });
    await expect(store.stat('guarded.txt', signal())).rejects.toMatchObject({
      name: 'RetryableError',
      code: 'RW_STORAGE_UNAVAILABLE',
      message: expect.stringContaining(`stat gs://${BUCKET}/guarded.txt`),
    });
    playground.storage.injectFault({ operation: 'objects.get', bucket: BUCKET, status: 403 });
    await expect(store.stat('guarded.txt', signal())).rejects.toMatchObject({
      name: 'FatalError',
      code: 'RW_STORAGE_DENIED',
    });
    playground.storage.injectFault({ operation: 'objects.list', bucket: BUCKET, status: 429 });
    await expect(store.list('', signal())).rejects.toMatchObject({
      name: 'RetryableError',
      code: 'RW_STORAGE_THROTTLED',
    });
  });

  it('an object corrupted in the bucket fails the download with RW_STORAGE_CORRUPT and leaves no file', async () => {
    const store = await openGcsObjectStore(options());
    await store.put(localFile(randomBytes(20_000)), 'rotten.zip', { ifAbsent: true }, signal());
    playground.storage.corrupt(BUCKET, 'rotten.zip');
    const target = path.join(tempDir(), 'rotten.zip');
    await expect(store.download('rotten.zip', target, signal())).rejects.toMatchObject({
      name: 'FatalError',
      code: 'RW_STORAGE_CORRUPT',
    });
    expect(existsSync(target) || existsSync(`${target}.partial`)).toBe(false);
    await expect(store.read('rotten.zip', {}, signal())).rejects.toMatchObject({
      code: 'RW_STORAGE_CORRUPT',
    });
  });

  it('bad input is refused before any request, naming what was wrong', async () => {
    await expect(
      openGcsObjectStore(options({ bucket: 'Not A Bucket', chunkSizeBytes: 1_000, pageSize: 0 })),
    ).rejects.toSatisfy(
      (error) =>
        error instanceof ConfigError &&
        error.problems.length === 3 &&
        /bucket: .*"Not A Bucket"/.test(error.problems[0]!) &&
        /chunkSizeBytes: .*262144/.test(error.problems[1]!),
    );
    const store = await openGcsObjectStore(options());
    await expect(store.read('x', { range: { start: 10, end: 5 } }, signal())).rejects.toMatchObject({
      code: 'RW_USAGE',
    });
    await expect(
      store.put(localFile(randomBytes(10)), 'both.zip', { ifAbsent: true, ifGenerationMatch: 5 }, signal()),
    ).rejects.toMatchObject({ code: 'RW_USAGE' });
    expect(await store.stat('both.zip', signal())).toBeUndefined();
  });

  it('the compiled adapter loads @google-cloud/storage only when a store is opened', () => {
    const compiled = readFileSync(new URL('../dist/storage/gcs-object-store.js', import.meta.url), 'utf8');
    expect(compiled).not.toMatch(/^import .*@google-cloud\/storage/m);
    expect(compiled).toContain("import('@google-cloud/storage')");
  });
});

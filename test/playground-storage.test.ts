import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CRC32C, IdempotencyStrategy, Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Playground, startPlayground, storageEmulatorOptions } from '../src/playground/index.js';
import { useTempDir } from './helpers/temp.js';

const BUCKET = 'test-bucket';
const CHUNK = 256 * 1024;

function crc32cOf(bytes: Buffer): string {
  const crc = new CRC32C();
  crc.update(bytes);
  return crc.toString();
}

/**
 * A client that retries at most `maxRetries` times, 1 s apart (the shortest its retry library takes).
 * RetryAlways: with the default RetryConditional, one write without a precondition switches retries
 * off for the whole Storage instance (the client mutates its shared retryOptions), and later
 * resumable uploads could no longer resume.
 */
function client(playground: Playground, maxRetries = 3): Storage {
  return new Storage({
    ...storageEmulatorOptions(playground.storage),
    retryOptions: {
      // The client reads maxRetries 0 as "use the default"; autoRetry false is how to say none.
      autoRetry: maxRetries > 0,
      maxRetries,
      maxRetryDelay: 1,
      retryDelayMultiplier: 1,
      totalTimeout: 60,
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
  });
}

describe('playground storage: the real @google-cloud/storage client against the JSON API emulator', () => {
  const tempDir = useTempDir();
  let playground: Playground;
  let storage: Storage;

  beforeAll(async () => {
    playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
    storage = client(playground);
  });

  afterAll(async () => {
    await playground?.stop();
  });

  it('stores a multipart upload with its custom metadata, and hashes computed from the bytes', async () => {
    const bytes = randomBytes(70_000);
    const file = storage.bucket(BUCKET).file('simple/one.bin');
    await file.save(bytes, { resumable: false, metadata: { metadata: { sha256: 'abc', version: '1.2.3' } } });
    const [metadata] = await file.getMetadata();
    expect(metadata).toMatchObject({
      name: 'simple/one.bin',
      size: '70000',
      crc32c: crc32cOf(bytes),
      metageneration: '1',
      metadata: { sha256: 'abc', version: '1.2.3' },
    });
    expect(metadata.md5Hash).toBe(createHash('md5').update(bytes).digest('base64'));
    const [downloaded] = await file.download();
    expect(downloaded.equals(bytes)).toBe(true);
  });

  it('takes a chunked resumable upload larger than the chunk size, 308 after each chunk', async () => {
    const bytes = randomBytes(3 * CHUNK + 12_345);
    const local = path.join(tempDir(), 'big.bin');
    writeFileSync(local, bytes);
    const [file] = await storage.bucket(BUCKET).upload(local, {
      destination: 'resumable/big.bin',
      resumable: true,
      chunkSize: CHUNK,
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    expect(file.metadata).toMatchObject({ size: bytes.length, crc32c: crc32cOf(bytes) });
    const [back] = await file.download();
    expect(back.equals(bytes)).toBe(true);
  });

  it('resumes a chunked upload after the connection drops mid-chunk (status query, then the rest)', async () => {
    const bytes = randomBytes(2 * CHUNK + 999);
    const local = path.join(tempDir(), 'dropped.bin');
    writeFileSync(local, bytes);
    playground.storage.injectFault({
      operation: 'objects.upload',
      bucket: BUCKET,
      drop: true,
      afterBytes: 4_000,
    });
    const [file] = await storage.bucket(BUCKET).upload(local, {
      destination: 'resumable/dropped.bin',
      resumable: true,
      chunkSize: CHUNK,
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    expect(playground.storage.pendingFaults().faults).toEqual([]);
    expect(file.metadata).toMatchObject({ size: bytes.length, crc32c: crc32cOf(bytes) });
    const [back] = await file.download();
    expect(back.equals(bytes)).toBe(true);
  });

  it('resumes after a 503 answered in the middle of an upload', async () => {
    const bytes = randomBytes(2 * CHUNK);
    const local = path.join(tempDir(), 'flaky.bin');
    writeFileSync(local, bytes);
    playground.storage.injectFault({ operation: 'objects.upload', status: 503, afterBytes: 10_000 });
    const [file] = await storage.bucket(BUCKET).upload(local, {
      destination: 'resumable/flaky.bin',
      resumable: true,
      chunkSize: CHUNK,
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    expect(playground.storage.pendingFaults().faults).toEqual([]);
    expect(file.metadata).toMatchObject({ size: bytes.length, crc32c: crc32cOf(bytes) });
  });

  it('speaks the 308 protocol: persisted Range after a drop, status query with bytes */N, finalize', async () => {
    const base = `${playground.storage.url}/upload/storage/v1/b/${BUCKET}/o`;
    const start = await fetch(`${base}?uploadType=resumable&name=raw%2Fprotocol.bin&ifGenerationMatch=0`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { origin: 'fetch' } }),
    });
    expect(start.status).toBe(200);
    const session = start.headers.get('location')!;
    const bytes = randomBytes(1_000);
    playground.storage.injectFault({ operation: 'objects.upload', drop: true, afterBytes: 300 });
    await expect(
      fetch(session, { method: 'PUT', headers: { 'content-range': 'bytes 0-999/1000' }, body: bytes }),
    ).rejects.toThrow();
    const status = await fetch(session, { method: 'PUT', headers: { 'content-range': 'bytes */1000' } });
    expect(status.status).toBe(308);
    expect(status.headers.get('range')).toBe('bytes=0-299');
    // The client resends from an earlier offset: the overlap is skipped, not stored twice.
    const rest = await fetch(session, {
      method: 'PUT',
      headers: { 'content-range': 'bytes 200-999/1000' },
      body: bytes.subarray(200),
    });
    expect(rest.status).toBe(200);
    expect(await rest.json()).toMatchObject({
      size: '1000',
      crc32c: crc32cOf(bytes),
      metadata: { origin: 'fetch' },
    });
    const again = await fetch(session, { method: 'PUT', headers: { 'content-range': 'bytes */1000' } });
    expect(again.status).toBe(200);
  });

  it('refuses a second write with ifGenerationMatch=0 (412), and keeps the first', async () => {
    const file = storage.bucket(BUCKET).file('cas/once.txt');
    await file.save('first', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    await expect(
      file.save('second', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
    ).rejects.toMatchObject({ code: 412 });
    const [text] = await file.download();
    expect(text.toString()).toBe('first');
  });

  it('compare-and-swap on the generation: the stale writer gets 412', async () => {
    const file = storage.bucket(BUCKET).file('cas/lease.json');
    await file.save('{"holder":"a"}', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const [first] = await file.getMetadata();
    await file.save('{"holder":"b"}', {
      resumable: false,
      preconditionOpts: { ifGenerationMatch: Number(first.generation) },
    });
    await expect(
      file.save('{"holder":"c"}', {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: Number(first.generation) },
      }),
    ).rejects.toMatchObject({ code: 412 });
    const [now] = await file.getMetadata();
    expect(Number(now.generation)).toBeGreaterThan(Number(first.generation));
  });

  it('deletes only the generation named: a stale generation gets 412 and the object stays', async () => {
    const file = storage.bucket(BUCKET).file('cas/delete-me.txt');
    await file.save('v1', { resumable: false });
    const [v1] = await file.getMetadata();
    await file.save('v2', { resumable: false });
    await expect(file.delete({ ifGenerationMatch: Number(v1.generation) })).rejects.toMatchObject({
      code: 412,
    });
    const [v2] = await file.getMetadata();
    await file.delete({ ifGenerationMatch: Number(v2.generation) });
    const [exists] = await file.exists();
    expect(exists).toBe(false);
  });

  it('patches custom metadata, bumping the metageneration; ifMetagenerationMatch guards it', async () => {
    const file = storage.bucket(BUCKET).file('meta/patched.txt');
    await file.save('x', { resumable: false, metadata: { metadata: { keep: 'yes', drop: 'me' } } });
    const [patched] = await file.setMetadata({ metadata: { drop: null, added: 'new' } });
    expect(patched).toMatchObject({ metageneration: '2', metadata: { keep: 'yes', added: 'new' } });
    expect(patched.metadata).not.toHaveProperty('drop');
    await expect(
      file.setMetadata({ metadata: { late: '1' } }, { ifMetagenerationMatch: 1 }),
    ).rejects.toMatchObject({
      code: 412,
    });
  });

  it('lists with a prefix, a delimiter and small pages', async () => {
    const bucket = storage.bucket(BUCKET);
    for (const name of [
      'list/a.zip',
      'list/b.zip',
      'list/c.zip',
      'list/d.zip',
      'list/e.zip',
      'list/sub/x.zip',
      'lister.txt',
    ]) {
      await bucket.file(name).save(name, { resumable: false });
    }
    const [all] = await bucket.getFiles({ prefix: 'list/' });
    expect(all.map((file) => file.name)).toEqual([
      'list/a.zip',
      'list/b.zip',
      'list/c.zip',
      'list/d.zip',
      'list/e.zip',
      'list/sub/x.zip',
    ]);
    const pages: string[][] = [];
    let query: { pageToken?: string } | null = {};
    while (query) {
      const [files, next]: [Array<{ name: string }>, unknown, unknown] = await bucket.getFiles({
        prefix: 'list/',
        maxResults: 2,
        autoPaginate: false,
        ...query,
      });
      pages.push(files.map((file) => file.name));
      query = (next as { pageToken?: string } | null) ?? null;
    }
    expect(pages).toEqual([
      ['list/a.zip', 'list/b.zip'],
      ['list/c.zip', 'list/d.zip'],
      ['list/e.zip', 'list/sub/x.zip'],
    ]);
    const [top, , response] = await bucket.getFiles({ prefix: 'list/', delimiter: '/', autoPaginate: false });
    expect(top).toHaveLength(5);
    expect((response as { prefixes?: string[] }).prefixes).toEqual(['list/sub/']);
  });

  it('serves byte ranges (206) and refuses one past the end (416)', async () => {
    const bytes = randomBytes(5_000);
    const file = storage.bucket(BUCKET).file('range/r.bin');
    await file.save(bytes, { resumable: false });
    const [middle] = await file.download({ start: 100, end: 199 });
    expect(middle.equals(bytes.subarray(100, 200))).toBe(true);
    const tail = await fetch(`${playground.storage.url}/storage/v1/b/${BUCKET}/o/range%2Fr.bin?alt=media`, {
      headers: { range: 'bytes=-10' },
    });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe('bytes 4990-4999/5000');
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(4990))).toBe(true);
    const past = await fetch(`${playground.storage.url}/storage/v1/b/${BUCKET}/o/range%2Fr.bin?alt=media`, {
      headers: { range: 'bytes=5000-' },
    });
    expect(past.status).toBe(416);
  });

  it("corrupts an object after upload: the client's CRC32C check fails the download", async () => {
    const bytes = randomBytes(40_000);
    const file = storage.bucket(BUCKET).file('rot/archive.zip');
    await file.save(bytes, { resumable: false });
    expect(playground.storage.corrupt(BUCKET, 'rot/archive.zip')).toBe(20_000);
    await expect(file.download()).rejects.toMatchObject({ code: 'CONTENT_DOWNLOAD_MISMATCH' });
    const [metadata] = await file.getMetadata();
    expect(metadata.crc32c).toBe(crc32cOf(bytes));
  });

  it('answers injected 403 and 503 with Cloud Storage error bodies; 503 is retried by the client', async () => {
    const file = storage.bucket(BUCKET).file('faults/f.txt');
    await file.save('f', { resumable: false });
    playground.storage.injectFault({ operation: 'objects.get', bucket: BUCKET, status: 403 });
    await expect(file.getMetadata()).rejects.toMatchObject({ code: 403, errors: [{ reason: 'forbidden' }] });
    playground.storage.injectFault({ operation: 'objects.get', status: 503, times: 2 });
    const [metadata] = await file.getMetadata();
    expect(metadata.name).toBe('faults/f.txt');
    const once = client(playground, 0);
    playground.storage.injectFault({ operation: 'objects.get', status: 503 });
    await expect(once.bucket(BUCKET).file('faults/f.txt').getMetadata()).rejects.toMatchObject({ code: 503 });
  });

  it('a slow bucket answers after a fast bucket asked later; bucket insert and get work', async () => {
    await storage.createBucket('other-bucket');
    await storage.bucket('other-bucket').file('fast.txt').save('fast', { resumable: false });
    await storage.bucket(BUCKET).file('slow/s.txt').save('slow', { resumable: false });
    const order: string[] = [];
    playground.storage.slowBucket(BUCKET, 1_500);
    try {
      const slow = storage
        .bucket(BUCKET)
        .file('slow/s.txt')
        .getMetadata()
        .then(() => order.push('slow'));
      const fast = storage
        .bucket('other-bucket')
        .file('fast.txt')
        .getMetadata()
        .then(() => order.push('fast'));
      await Promise.all([slow, fast]);
    } finally {
      playground.storage.slowBucket(BUCKET, 0);
    }
    expect(order).toEqual(['fast', 'slow']);
    expect(playground.storage.buckets()).toEqual(['other-bucket', BUCKET]);
  });

  it("404s an unknown bucket and object with the API's reasons", async () => {
    await expect(storage.bucket('no-such-bucket').file('x').getMetadata()).rejects.toMatchObject({
      code: 404,
    });
    await expect(storage.bucket(BUCKET).file('absent').getMetadata()).rejects.toMatchObject({ code: 404 });
    const [exists] = await storage.bucket(BUCKET).exists();
    expect(exists).toBe(true);
  });

  it('control API: shows objects, takes faults and corruption, and names bad input', async () => {
    const control = (route: string, body: object) =>
      fetch(`${playground.controlUrl}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await storage.bucket(BUCKET).file('control/c.txt').save('control', { resumable: false });
    const state = (await (await fetch(`${playground.controlUrl}/storage`)).json()) as {
      buckets: Array<{ name: string; objects: Array<{ name: string; size: number }> }>;
    };
    const objects = state.buckets.find((bucket) => bucket.name === BUCKET)!.objects;
    expect(objects.find((object) => object.name === 'control/c.txt')).toMatchObject({ size: 7 });

    const bad = await control('/storage/faults', { operation: 'objects.teleport', status: 503 });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('operation');
    const noEffect = await control('/storage/faults', { operation: 'objects.get', afterBytes: 5 });
    expect(noEffect.status).toBe(400);
    expect(await noEffect.text()).toContain('afterBytes needs a status or drop');
    expect(playground.storage.pendingFaults().faults).toEqual([]);

    const missing = await control('/storage/corrupt', { bucket: BUCKET, object: 'control/absent' });
    expect(missing.status).toBe(404);
    const corrupt = await control('/storage/corrupt', { bucket: BUCKET, object: 'control/c.txt', offset: 0 });
    expect(await corrupt.json()).toEqual({ offset: 0 });
    const [bytes] = await storage.bucket(BUCKET).file('control/c.txt').download({ validation: false });
    expect(bytes[0]).toBe('c'.charCodeAt(0) ^ 0xff);

    const fault = await control('/storage/faults', {
      operation: 'objects.delete',
      bucket: BUCKET,
      status: 403,
    });
    expect(fault.status).toBe(200);
    await expect(storage.bucket(BUCKET).file('control/c.txt').delete()).rejects.toMatchObject({ code: 403 });
  });
});

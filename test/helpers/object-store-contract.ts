import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/storage/object-store.js';

/** A store under test, on an empty bucket (or prefix) of its own, listing at most 2 objects a page. */
export interface ContractSubject {
  store: ObjectStore;
  close(): Promise<void>;
}

export function crc32cOf(bytes: Buffer): string {
  const crc = new CRC32C();
  crc.update(bytes);
  return crc.toString();
}

const signal = () => new AbortController().signal;

/**
 * What every ObjectStore must do, whatever holds the bytes: run it against each implementation
 * (the Cloud Storage adapter on the emulator today; a real bucket or another back end later).
 */
export function objectStoreContract(label: string, open: () => Promise<ContractSubject>): void {
  describe(`ObjectStore contract: ${label}`, () => {
    let subject: ContractSubject;
    let dir: string;

    beforeAll(async () => {
      subject = await open();
      dir = await mkdtemp(path.join(tmpdir(), 'runwarden-contract-'));
    });

    afterAll(async () => {
      await subject?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const localFile = (name: string, bytes: Buffer) => {
      const file = path.join(dir, name);
      writeFileSync(file, bytes);
      return file;
    };

    it('put stores the file: size and CRC32C read back match the local bytes, metadata kept', async () => {
      const bytes = randomBytes(50_000);
      const put = await subject.store.put(
        localFile('a.zip', bytes),
        'archives/a.zip',
        {
          ifAbsent: true,
          metadata: { sha256: 'feed', version: '0.1.0' },
        },
        signal(),
      );
      expect(put).toMatchObject({ name: 'archives/a.zip', size: bytes.length, crc32c: crc32cOf(bytes) });
      expect(put.generation).toBeGreaterThan(0);
      // The CRC32C of what was sent, when the store reports it, is the local file's.
      const { sentCrc32c, ...stored } = put;
      if (sentCrc32c !== undefined) expect(sentCrc32c).toBe(crc32cOf(bytes));
      const stat = await subject.store.stat('archives/a.zip', signal());
      expect(stat).toEqual(stored);
      expect(stat?.metadata).toEqual({ sha256: 'feed', version: '0.1.0' });
    });

    it('put ifAbsent never overwrites: the second is a precondition failure and the first stays', async () => {
      const first = randomBytes(1_000);
      const stored = await subject.store.put(
        localFile('once-1', first),
        'archives/once.zip',
        { ifAbsent: true },
        signal(),
      );
      await expect(
        subject.store.put(
          localFile('once-2', randomBytes(1_000)),
          'archives/once.zip',
          { ifAbsent: true },
          signal(),
        ),
      ).rejects.toMatchObject({ name: 'FatalError', code: 'RW_STORAGE_PRECONDITION' });
      expect(await subject.store.stat('archives/once.zip', signal())).toMatchObject({
        generation: stored.generation,
        crc32c: crc32cOf(first),
      });
    });

    it('write is a compare-and-swap on the generation; read returns the bytes with their generation', async () => {
      const one = await subject.store.write(
        'state/lease',
        Buffer.from('one'),
        { ifGenerationMatch: 0 },
        signal(),
      );
      const two = await subject.store.write(
        'state/lease',
        Buffer.from('two'),
        { ifGenerationMatch: one.generation },
        signal(),
      );
      expect(two.generation).not.toBe(one.generation);
      await expect(
        subject.store.write(
          'state/lease',
          Buffer.from('stale'),
          { ifGenerationMatch: one.generation },
          signal(),
        ),
      ).rejects.toMatchObject({ code: 'RW_STORAGE_PRECONDITION' });
      const read = await subject.store.read('state/lease', {}, signal());
      expect(read).toEqual({ bytes: Buffer.from('two'), generation: two.generation });
    });

    it('reads a byte range', async () => {
      const bytes = randomBytes(4_000);
      await subject.store.write('ranges/r', bytes, {}, signal());
      const { bytes: slice } = await subject.store.read(
        'ranges/r',
        { range: { start: 1_000, end: 1_999 } },
        signal(),
      );
      expect(slice.equals(bytes.subarray(1_000, 2_000))).toBe(true);
    });

    it('delete with a stale generation is refused; with the current one it deletes', async () => {
      const v1 = await subject.store.write('gone/x', Buffer.from('1'), {}, signal());
      const v2 = await subject.store.write('gone/x', Buffer.from('2'), {}, signal());
      await expect(
        subject.store.delete('gone/x', { ifGenerationMatch: v1.generation }, signal()),
      ).rejects.toMatchObject({ code: 'RW_STORAGE_PRECONDITION' });
      await subject.store.delete('gone/x', { ifGenerationMatch: v2.generation }, signal());
      expect(await subject.store.stat('gone/x', signal())).toBeUndefined();
      await expect(subject.store.delete('gone/x', {}, signal())).rejects.toMatchObject({
        code: 'RW_STORAGE_NOT_FOUND',
      });
    });

    it('lists every object under a prefix in name order, across pages', async () => {
      const names = ['list/1', 'list/2', 'list/3', 'list/4', 'list/5'];
      for (const name of [...names].reverse())
        await subject.store.write(name, Buffer.from(name), {}, signal());
      await subject.store.write('listing-not-me', Buffer.from('x'), {}, signal());
      const listed = await subject.store.list('list/', signal());
      expect(listed.map((object) => object.name)).toEqual(names);
      expect(listed[0]).toMatchObject({ size: 6, crc32c: crc32cOf(Buffer.from('list/1')) });
    });

    it('downloads to a file, checked, with no partial file left behind', async () => {
      const bytes = randomBytes(30_000);
      const put = await subject.store.put(localFile('d.zip', bytes), 'archives/d.zip', {}, signal());
      const target = path.join(dir, 'restored.zip');
      const info = await subject.store.download('archives/d.zip', target, signal());
      expect(info.generation).toBe(put.generation);
      expect(readFileSync(target).equals(bytes)).toBe(true);
      expect(existsSync(`${target}.partial`)).toBe(false);
    });

    it('a missing object: stat says undefined, download and read fail NOT_FOUND and write no file', async () => {
      expect(await subject.store.stat('absent', signal())).toBeUndefined();
      const target = path.join(dir, 'absent.zip');
      await expect(subject.store.download('absent', target, signal())).rejects.toMatchObject({
        code: 'RW_STORAGE_NOT_FOUND',
      });
      expect(existsSync(target) || existsSync(`${target}.partial`)).toBe(false);
      await expect(subject.store.read('absent', {}, signal())).rejects.toMatchObject({
        code: 'RW_STORAGE_NOT_FOUND',
      });
    });

    it('an aborted signal rejects with its reason', async () => {
      const controller = new AbortController();
      const reason = new Error('shutting down');
      controller.abort(reason);
      await expect(subject.store.stat('archives/a.zip', controller.signal)).rejects.toBe(reason);
      await expect(
        subject.store.put(
          localFile('abort.zip', randomBytes(10)),
          'archives/abort.zip',
          {},
          controller.signal,
        ),
      ).rejects.toBe(reason);
    });
  });
}

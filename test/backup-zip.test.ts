import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { globMatcher } from '../src/backup/glob.js';
import { chooseMethod } from '../src/archive/media-type.js';
import { archiveName, isArchiveName, isoWithOffset } from '../src/backup/naming.js';
import { ZipWriter } from '../src/archive/zip-writer.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-zip-');

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
const GZIP = Buffer.from([0x1f, 0x8b, 0x08, 0x00]);
const ZIP = Buffer.from('PK\x03\x04', 'latin1');

describe('chooseMethod', () => {
  it.each([
    ['photo.jpg', JPEG, 'store'],
    ['photo.JPEG', JPEG, 'store'],
    ['icon.png', PNG, 'store'],
    ['report.docx', ZIP, 'store'],
    ['report.xlsx', ZIP, 'store'],
    ['dump.gz', GZIP, 'store'],
    ['clip.mp4', Buffer.from('\0\0\0\x18ftypmp42', 'latin1'), 'store'],
    ['doc.pdf', Buffer.from('%PDF-1.7', 'latin1'), 'store'],
    // magic bytes recognise compressed data without a telling extension
    ['upload-1234', PNG, 'store'],
    ['blob.bin', GZIP, 'store'],
    // an extension that lies is not trusted when its signature can be checked
    ['notes.jpg', Buffer.from('just some text', 'latin1'), 'deflate'],
    ['data.zip', Buffer.from('{"json": true}', 'latin1'), 'deflate'],
    // text and unknown formats deflate
    ['readme.txt', Buffer.from('hello', 'latin1'), 'deflate'],
    ['page.html', Buffer.from('<!doctype html>', 'latin1'), 'deflate'],
    ['styles.css', Buffer.from('body { }', 'latin1'), 'deflate'],
  ])('%s -> %s', (name, head, method) => {
    expect(chooseMethod(name, head)).toBe(method);
  });
});

describe('globMatcher', () => {
  it('matches *, **, ?, {a,b} and classes against relative paths', () => {
    const match = (patterns: string[], file: string) => globMatcher(patterns)(file);
    expect(match(['**'], 'a/b/c.txt')).toBe(true);
    expect(match(['*.jpg'], 'a.jpg')).toBe(true);
    expect(match(['*.jpg'], 'dir/a.jpg')).toBe(false);
    expect(match(['**/*.jpg'], 'a.jpg')).toBe(true);
    expect(match(['**/*.jpg'], 'x/y/a.jpg')).toBe(true);
    expect(match(['cache/**'], 'cache/x/y')).toBe(true);
    expect(match(['cache/**'], 'cached/x')).toBe(false);
    expect(match(['**/*.{tmp,part}'], 'a/b.part')).toBe(true);
    expect(match(['file?.txt'], 'file1.txt')).toBe(true);
    expect(match(['file[!0-9].txt'], 'file1.txt')).toBe(false);
    expect(match(['a.b'], 'axb')).toBe(false);
  });
});

describe('archive names', () => {
  it('uses the configured time zone for the name and the ISO offset', () => {
    const at = new Date('2026-01-31T02:30:05.250Z');
    expect(archiveName('backup_completo', at, 'UTC')).toBe('backup_completo_20260131_023005.zip');
    expect(archiveName('b', at, 'America/Sao_Paulo')).toBe('b_20260130_233005.zip');
    expect(isoWithOffset(at, 'America/Sao_Paulo')).toBe('2026-01-30T23:30:05.250-03:00');
    expect(isoWithOffset(at, 'Asia/Kolkata')).toBe('2026-01-31T08:00:05.250+05:30');
    expect(isArchiveName('b_20260130_233005.zip', 'b')).toBe(true);
    expect(isArchiveName('b_20260130_233005.zip.partial', 'b')).toBe(false);
    expect(isArchiveName('other_20260130_233005.zip', 'b')).toBe(false);
  });
});

describe('ZipWriter', () => {
  it('writes archives that unzip -t, and yauzl, accept, with the method asked for per entry', async () => {
    const file = path.join(tempDir(), 'test.zip');
    const zip = await ZipWriter.create(file);
    const text = Buffer.from('compressible text\n'.repeat(10_000));
    const noise = randomBytes(3 * 1024 * 1024);
    const written = [
      await zip.add('db/db.sqlite3', Readable.from([text]), { method: 'deflate', sizeHint: text.length }),
      await zip.add('media/photo.jpg', Readable.from([JPEG, noise]), {
        method: 'store',
        sizeHint: noise.length + 4,
      }),
      // no size hint: a ZIP64 field is reserved in the local header
      await zip.add('media/ünïcode name.txt', Readable.from([Buffer.from('x')]), { method: 'deflate' }),
      await zip.add('media/empty', Readable.from([]), { method: 'store' }),
    ];
    const size = await zip.finish();
    expect(size).toBe(readFileSync(file).length);
    expect(written[0]?.compressedSize).toBeLessThan(text.length / 10);
    expect(written[1]?.compressedSize).toBe(noise.length + 4);

    const unzip = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
    expect(unzip.stdout).toContain('No errors detected');
    expect(unzip.status).toBe(0);
    const listing = execFileSync('unzip', ['-v', file], { encoding: 'utf8' });
    expect(listing).toMatch(/Defl:N .* db\/db\.sqlite3/);
    expect(listing).toMatch(/Stored .* media\/photo\.jpg/);

    const entries = await readEntries(file);
    expect(entries.map((entry) => [entry.fileName, entry.compressionMethod, entry.uncompressedSize])).toEqual(
      [
        ['db/db.sqlite3', 8, text.length],
        ['media/photo.jpg', 0, noise.length + 4],
        ['media/ünïcode name.txt', 8, 1],
        ['media/empty', 0, 0],
      ],
    );
    expect(entries.map((entry) => entry.crc32 >>> 0)).toEqual(written.map((entry) => entry?.crc32));
  });

  it('interleaves in-memory small entries (written together) with streamed ones at the right offsets', async () => {
    const file = path.join(tempDir(), 'mixed.zip');
    const zip = await ZipWriter.create(file);
    const expected = new Map<string, Buffer>();
    for (let i = 0; i < 300; i++) {
      const data = i % 3 === 0 ? randomBytes(5000) : Buffer.from(`small file ${i} `.repeat(i + 1));
      const name = `media/small/${i}.txt`;
      expected.set(name, data);
      await zip.addBuffer(name, data, { method: i % 3 === 0 ? 'store' : 'deflate' });
      if (i % 100 === 50) {
        const big = randomBytes(1024 * 1024 + i);
        expected.set(`media/big-${i}.bin`, big);
        await zip.add(`media/big-${i}.bin`, Readable.from([big]), {
          method: 'deflate',
          sizeHint: big.length,
        });
      }
    }
    await zip.finish();
    expect(spawnSync('unzip', ['-tq', file], { encoding: 'utf8' }).status).toBe(0);
    const zipfile = await yauzl.openPromise(file, { lazyEntries: true });
    const seen = new Map<string, Buffer>();
    for await (const entry of zipfile.eachEntry()) {
      const chunks: Buffer[] = [];
      for await (const chunk of await zipfile.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      seen.set(entry.fileName, Buffer.concat(chunks));
    }
    zipfile.close();
    expect([...seen.keys()]).toEqual([...expected.keys()]);
    for (const [name, data] of expected) expect(seen.get(name)?.equals(data), name).toBe(true);
  });

  it('refuses to overwrite: the file is created exclusively', async () => {
    const file = path.join(tempDir(), 'once.zip');
    await (await ZipWriter.create(file)).finish();
    await expect(ZipWriter.create(file)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});

async function readEntries(file: string): Promise<yauzl.Entry[]> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true });
  const entries: yauzl.Entry[] = [];
  for await (const entry of zip.eachEntry()) entries.push(entry);
  zip.close();
  return entries;
}

import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveInside, UnsafeEntryError } from '../src/restore/restore-paths.js';
import { runRestore } from '../src/restore/restore.js';
import type { BackupSourcesConfig } from '../src/config/schema/backup.js';
import { RunwardenError } from '../src/core/errors.js';
import { renameEntriesInPlace, writeFixtureArchive } from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-restore-media-');

function setup() {
  const root = tempDir();
  const data = path.join(root, 'data');
  mkdirSync(data);
  const sources: BackupSourcesConfig = {
    data_dir: data,
    main_db: { path: path.join(data, 'db.sqlite3'), required: true },
    tenants: { pattern: path.join(data, 'tenants', '{tenant}.sqlite3'), required: true },
    media: { dir: path.join(data, 'media'), include: ['**'], exclude: [], required: true },
  };
  return { root, data, media: sources.media.dir, sources, archive: path.join(root, 'backup.zip') };
}

async function restoreMediaError(
  archive: string,
  sources: BackupSourcesConfig,
  force = true,
): Promise<RunwardenError> {
  try {
    await runRestore({
      archive,
      selection: { kind: 'media' },
      sources,
      force,
      signal: new AbortController().signal,
    });
  } catch (error) {
    expect(error).toBeInstanceOf(RunwardenError);
    return error as RunwardenError;
  }
  throw new Error('expected the restore to be refused');
}

/** Every path under `dir`, relative, sorted (empty when it does not exist). */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('resolveInside (zip-slip check)', () => {
  it.each([
    ['photos/a.jpg', '/t/photos/a.jpg'],
    ['a', '/t/a'],
    ['deep/er/still/x.pdf', '/t/deep/er/still/x.pdf'],
    ['..hidden/ok', '/t/..hidden/ok'],
  ])('puts %s at %s', (relative, expected) => {
    expect(resolveInside('/t', relative)).toBe(expected);
  });

  it.each([
    ['../evil', 'path escapes the target with ..'],
    ['a/../../evil', 'path escapes the target with ..'],
    ['a/..', 'path escapes the target with ..'],
    ['/etc/passwd', 'absolute path'],
    ['C:/Windows/evil', 'absolute path'],
    ['a\\..\\..\\evil', 'backslash in the path'],
    ['a//b', 'empty or . segment in the path'],
    ['./a', 'empty or . segment in the path'],
    ['a\0b', 'NUL byte in the path'],
    ['', 'empty path'],
  ])('refuses %j: %s', (relative, why) => {
    expect(() => resolveInside('/t', relative, `media/${relative}`)).toThrow(
      new UnsafeEntryError(`media/${relative}`, why),
    );
  });
});

describe('media restore', () => {
  it('writes every media file, byte for byte, into an empty folder', async () => {
    const { sources, archive, media } = setup();
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 7)]);
    await writeFixtureArchive(archive, [
      { path: 'media/photos/cat.jpg', kind: 'media', data: jpeg },
      { path: 'media/docs/readme.txt', kind: 'media', data: Buffer.from('hello') },
      { path: 'media/top.bin', kind: 'media', data: Buffer.alloc(0) },
    ]);
    const outcome = await runRestore({
      archive,
      selection: { kind: 'media' },
      sources,
      force: false,
      signal: new AbortController().signal,
    });
    expect(outcome).toMatchObject({ kind: 'media', target: media, files: 3, bytes: jpeg.length + 5 });
    expect(readFileSync(path.join(media, 'photos/cat.jpg')).equals(jpeg)).toBe(true);
    expect(readFileSync(path.join(media, 'docs/readme.txt'), 'utf8')).toBe('hello');
    expect(readFileSync(path.join(media, 'top.bin')).length).toBe(0);
    expect(tree(media).filter((name) => name.includes('.restore-'))).toEqual([]);
  });

  it('refuses a folder that holds files without --force; with it, replaces and keeps the rest', async () => {
    const { sources, archive, media } = setup();
    await writeFixtureArchive(archive, [
      { path: 'media/a.txt', kind: 'media', data: Buffer.from('from backup') },
    ]);
    mkdirSync(media);
    writeFileSync(path.join(media, 'a.txt'), 'current');
    writeFileSync(path.join(media, 'only-here.txt'), 'mine');
    const error = await restoreMediaError(archive, sources, false);
    expect(error.code).toBe('RW_RESTORE_TARGET_EXISTS');
    expect(readFileSync(path.join(media, 'a.txt'), 'utf8')).toBe('current');

    await runRestore({
      archive,
      selection: { kind: 'media' },
      sources,
      force: true,
      signal: new AbortController().signal,
    });
    expect(readFileSync(path.join(media, 'a.txt'), 'utf8')).toBe('from backup');
    expect(readFileSync(path.join(media, 'only-here.txt'), 'utf8')).toBe('mine');
  });
});

describe('zip-slip archives write nothing', () => {
  it.each([
    ['a ../ entry', 'media/xx/evil.txt', 'media/../evil.txt'],
    ['a ../../ entry', 'media/xx/yy/evil.txt', 'media/../../evil.txt'],
    ['an absolute entry', 'xtmp/evil-abs.txt', '/tmp/evil-abs.txt'],
    ['a backslash entry', 'media/xx/ev.txt', 'media/..\\ev.txt'],
  ])('refuses %s before writing anything', async (_what, written, smuggled) => {
    const { root, data, sources, archive, media } = setup();
    await writeFixtureArchive(archive, [
      { path: 'media/good.txt', kind: 'media', data: Buffer.from('fine') },
      { path: written, kind: 'media', data: Buffer.from('pwned') },
    ]);
    renameEntriesInPlace(archive, written, smuggled);
    const error = await restoreMediaError(archive, sources);
    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toMatch(
      /^backup .*backup\.zip is corrupt: (bad central directory|not a readable ZIP): /,
    );
    expect(error.message).toContain(smuggled);
    expect(tree(media)).toEqual([]);
    expect(tree(data)).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['backup.zip', 'data']);
    expect(existsSync('/tmp/evil-abs.txt')).toBe(false);
  });

  it('refuses a symlink entry, even one the manifest vouches for', async () => {
    const { root, sources, archive, media } = setup();
    await writeFixtureArchive(archive, [
      { path: 'media/good.txt', kind: 'media', data: Buffer.from('fine') },
      { path: 'media/link', kind: 'media', data: Buffer.from('../../outside'), mode: 0o120777 },
    ]);
    const error = await restoreMediaError(archive, sources);
    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toBe(
      `backup ${archive} is corrupt: entry media/link: is a symlink (Unix mode 0o120777), not a regular file; runwarden writes only regular files, so the archive was not written by runwarden or was tampered with`,
    );
    expect(tree(media)).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['backup.zip', 'data']);
  });

  it('refuses to write through a folder on disk that is a symlink to elsewhere', async () => {
    const { root, sources, archive, media } = setup();
    const outside = path.join(root, 'outside');
    mkdirSync(outside);
    mkdirSync(media);
    symlinkSync(outside, path.join(media, 'photos'));
    await writeFixtureArchive(archive, [
      { path: 'media/a.txt', kind: 'media', data: Buffer.from('a') },
      { path: 'media/photos/cat.jpg', kind: 'media', data: Buffer.from('meow') },
    ]);
    const error = await restoreMediaError(archive, sources);
    expect(error.code).toBe('RW_RESTORE_UNSAFE_ENTRY');
    expect(error.message).toMatch(/^archive entry "media\/photos\/cat\.jpg" refused: .*photos is a symlink/);
    expect(tree(outside)).toEqual([]);
    expect(existsSync(path.join(media, 'a.txt'))).toBe(false); // checked before the first write
  });
});

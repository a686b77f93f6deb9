import { describe, expect, it } from 'vitest';
import { irregularEntryProblem, zipEntryType } from '../src/core/zip-entry-type.js';

const UNIX = 3 << 8;
const MSDOS = 0 << 8;
const NTFS = 10 << 8;

/** Central-directory fields: a name, the host (and spec version) that made it, the attributes. */
function entry(fileName: string, versionMadeBy: number, externalFileAttributes: number) {
  return { fileName, versionMadeBy, externalFileAttributes: externalFileAttributes >>> 0 };
}

describe('zipEntryType: what a central-directory record says an entry is', () => {
  it.each([
    ['runwarden writer', entry('db/db.sqlite3', UNIX | 45, 0o100644 << 16)],
    ['yazl default', entry('media/a.jpg', UNIX | 63, 0o100664 << 16)],
    ['Info-ZIP zip', entry('media/a.jpg', UNIX | 30, 0o100644 << 16)],
    ['Info-ZIP zip, read-only file', entry('media/a.jpg', UNIX | 30, (0o100444 << 16) | 0x01)],
    ['an executable file', entry('media/run.sh', UNIX | 30, 0o100755 << 16)],
    ['Python zipfile.writestr (permissions, no type)', entry('media/a', UNIX | 20, 0o600 << 16)],
    ['Java / Go (no attributes)', entry('media/a', MSDOS | 20, 0)],
    ['Windows Explorer (archive bit)', entry('media/a', MSDOS | 20, 0x20)],
    ['NTFS, read-only and archive', entry('media/a', NTFS | 20, 0x21)],
    ['7-Zip with a Unix mode', entry('media/a', MSDOS | 20, (0o100644 << 16) | 0x8020)],
    ['no attributes from an unknown host', entry('media/a', (2 << 8) | 20, 0)],
  ])('%s: a regular file', (_what, fields) => {
    expect(zipEntryType(fields)).toEqual({ type: 'file' });
    expect(irregularEntryProblem(fields)).toBeUndefined();
  });

  it.each([
    ['a Unix symlink', entry('media/l', UNIX | 30, 0o120777 << 16), 'symlink', 'Unix mode 0o120777'],
    ['a Windows symlink', entry('media/l', NTFS | 20, 0x420), 'symlink', 'MS-DOS attributes 0x0420'],
    ['a character device', entry('media/c', UNIX | 30, 0o020644 << 16), 'device', 'Unix mode 0o020644'],
    ['a block device', entry('media/b', UNIX | 30, 0o060660 << 16), 'device', 'Unix mode 0o060660'],
    ['a FIFO', entry('media/f', UNIX | 30, 0o010644 << 16), 'fifo', 'Unix mode 0o010644'],
    ['a socket', entry('media/s', UNIX | 30, 0o140755 << 16), 'socket', 'Unix mode 0o140755'],
    ['a folder by its mode', entry('media/d', UNIX | 30, 0o040755 << 16), 'folder', 'Unix mode 0o040755'],
    ['a folder by its name', entry('media/d/', UNIX | 30, 0o040755 << 16), 'folder', 'its name ends with /'],
    [
      'a folder by its name, no attributes',
      entry('media/d/', MSDOS | 20, 0),
      'folder',
      'its name ends with /',
    ],
    ['a folder by MS-DOS bit', entry('media/d', MSDOS | 20, 0x10), 'folder', 'MS-DOS attributes 0x0010'],
    [
      'an Info-ZIP folder',
      entry('media/d', UNIX | 30, (0o040755 << 16) | 0x10),
      'folder',
      'MS-DOS attributes 0x0010',
    ],
    ['an undefined Unix type', entry('media/u', UNIX | 30, 0o030644 << 16), 'unknown', 'Unix mode 0o030644'],
    ['a volume label', entry('media/v', MSDOS | 20, 0x08), 'unknown', 'MS-DOS attributes 0x0008'],
    ['a Windows device', entry('media/v', NTFS | 20, 0x40), 'device', 'MS-DOS attributes 0x0040'],
    ['other MS-DOS bits', entry('media/e', NTFS | 20, 0x4000), 'unknown', 'MS-DOS attributes 0x4000'],
    [
      'a Unix mode from an MS-DOS host without the 7-Zip flag',
      entry('media/m', MSDOS | 20, 0o120777 << 16),
      'unknown',
      'attributes 0xa1ff0000 of host system 0',
    ],
    [
      'attributes of a host we do not read (VMS)',
      entry('media/m', (2 << 8) | 20, 0o100644 << 16),
      'unknown',
      'attributes 0x81a40000 of host system 2',
    ],
  ])('%s: refused', (_what, fields, type, detail) => {
    expect(zipEntryType(fields)).toEqual({ type, detail });
    expect(irregularEntryProblem(fields)).toMatch(
      /, not a regular file; runwarden writes only regular files, so the archive was not written by runwarden or was tampered with$/,
    );
  });

  it('names the kind and the attributes in the problem', () => {
    expect(irregularEntryProblem(entry('media/l', UNIX | 30, 0o120777 << 16))).toBe(
      'is a symlink (Unix mode 0o120777), not a regular file; runwarden writes only regular files, so the archive was not written by runwarden or was tampered with',
    );
    expect(irregularEntryProblem(entry('media/u', UNIX | 30, 0o030644 << 16))).toMatch(
      /^is of an unknown kind \(Unix mode 0o030644\), /,
    );
  });
});

/**
 * What kind of file a ZIP entry is, judged from its central-directory record alone (no entry data
 * is read). runwarden writes only regular files (Unix host, mode 0o100644); so do other archivers
 * for plain files, in their own ways. Anything else in an archive (a symlink, a device, a folder,
 * attributes we cannot read) means it was not written by runwarden or was tampered with.
 */

/** The central-directory fields that carry an entry's kind (names as yauzl's Entry has them). */
export interface ZipEntryFields {
  fileName: string;
  /** High byte: the host system whose attribute conventions apply (0 MS-DOS, 3 Unix, ...). */
  versionMadeBy: number;
  /** High 16 bits: a Unix mode (type and permissions); low 16 bits: MS-DOS/Windows attributes. */
  externalFileAttributes: number;
}

export type ZipEntryType = 'file' | 'symlink' | 'device' | 'fifo' | 'socket' | 'folder' | 'unknown';

/** The entry's kind and, unless it is a regular file, the attributes that say so (for messages). */
export interface ZipEntryVerdict {
  type: ZipEntryType;
  detail?: string;
}

// Host systems (APPNOTE 4.4.2.2) whose attributes we read: MS-DOS/FAT, Unix, Windows NTFS,
// VFAT, OS X. Java, Go and Windows write MS-DOS; Info-ZIP, yazl, Python and runwarden write Unix.
const HOST_MSDOS = 0;
const HOST_UNIX = 3;
const HOST_NTFS = 10;
const HOST_VFAT = 14;
const HOST_OSX = 19;
const DOS_HOSTS = new Set([HOST_MSDOS, HOST_NTFS, HOST_VFAT]);
const UNIX_HOSTS = new Set([HOST_UNIX, HOST_OSX]);

const S_IFMT = 0o170000;
const UNIX_TYPES = new Map<number, ZipEntryType>([
  [0o100000, 'file'],
  [0o120000, 'symlink'],
  [0o020000, 'device'],
  [0o060000, 'device'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
  [0o040000, 'folder'],
]);

// MS-DOS/Windows attribute bits (the low 16 bits, whatever the host: Info-ZIP sets them too).
const DOS_VOLUME_LABEL = 0x08;
const DOS_DIRECTORY = 0x10;
const DOS_DEVICE = 0x40;
const DOS_REPARSE_POINT = 0x400; // how Windows marks a symlink or junction
/** 7-Zip's flag: the high 16 bits hold a Unix mode although the host is MS-DOS. */
const DOS_UNIX_EXTENSION = 0x8000;
/** Bits a plain file may carry: read-only, hidden, system, archive, normal (and 7-Zip's flag). */
const DOS_PLAIN_FILE_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x80 | DOS_UNIX_EXTENSION;

/**
 * Judges an entry from its central-directory record. A regular file is: a name without a trailing
 * slash; MS-DOS attributes that are a plain file's (none, or read-only, hidden, system, archive);
 * and, when the record carries a Unix mode (a Unix or OS X host, or 7-Zip's flag), a mode of type
 * regular file, or of no type at all with permissions only (Python's zipfile writes that). No
 * attributes at all, from any host, is a plain file: the archiver recorded none. Everything else
 * is named: a symlink (Unix type, or a Windows reparse point), a device, a FIFO, a socket, a folder
 * (trailing slash, Unix type, or MS-DOS directory bit), or `unknown` (an undefined Unix type, a
 * volume label, other attribute bits, a host whose attributes we do not read).
 */
export function zipEntryType(entry: ZipEntryFields): ZipEntryVerdict {
  const attributes = entry.externalFileAttributes >>> 0;
  const host = (entry.versionMadeBy >>> 8) & 0xff;
  const mode = attributes >>> 16;
  const dos = attributes & 0xffff;
  if (entry.fileName.endsWith('/')) return { type: 'folder', detail: 'its name ends with /' };
  if (attributes === 0) return { type: 'file' };
  const dosVerdict = dosType(dos);
  if (dosVerdict) return dosVerdict;
  if (mode === 0) {
    if (DOS_HOSTS.has(host) || UNIX_HOSTS.has(host)) return { type: 'file' };
    return unknownHost(host, attributes);
  }
  const modeIsUnix = UNIX_HOSTS.has(host) || (DOS_HOSTS.has(host) && (dos & DOS_UNIX_EXTENSION) !== 0);
  if (!modeIsUnix) return unknownHost(host, attributes);
  const type = mode & S_IFMT;
  if (type === 0) return { type: 'file' }; // permissions only: no type recorded
  const known = UNIX_TYPES.get(type);
  if (known === 'file') return { type: 'file' };
  return { type: known ?? 'unknown', detail: `Unix mode ${octal(mode)}` };
}

/** The non-file verdict the MS-DOS attribute bits give, or undefined when they fit a plain file. */
function dosType(dos: number): ZipEntryVerdict | undefined {
  const detail = `MS-DOS attributes 0x${dos.toString(16).padStart(4, '0')}`;
  if (dos & DOS_REPARSE_POINT) return { type: 'symlink', detail };
  if (dos & DOS_DIRECTORY) return { type: 'folder', detail };
  if (dos & DOS_DEVICE) return { type: 'device', detail };
  if (dos & DOS_VOLUME_LABEL || (dos & ~DOS_PLAIN_FILE_BITS) !== 0) return { type: 'unknown', detail };
  return undefined;
}

function unknownHost(host: number, attributes: number): ZipEntryVerdict {
  return {
    type: 'unknown',
    detail: `attributes 0x${attributes.toString(16).padStart(8, '0')} of host system ${host}`,
  };
}

const TYPE_WORDS: Record<Exclude<ZipEntryType, 'file'>, string> = {
  symlink: 'a symlink',
  device: 'a device',
  fifo: 'a FIFO',
  socket: 'a socket',
  folder: 'a folder',
  unknown: 'of an unknown kind',
};

/**
 * Why `entry` may not be in a runwarden archive, for an error that names it ("is a symlink (Unix
 * mode 0o120777), not a regular file; ..."), or undefined for a regular file.
 */
export function irregularEntryProblem(entry: ZipEntryFields): string | undefined {
  const verdict = zipEntryType(entry);
  if (verdict.type === 'file') return undefined;
  const detail = verdict.detail ? ` (${verdict.detail})` : '';
  return `is ${TYPE_WORDS[verdict.type]}${detail}, not a regular file; runwarden writes only regular files, so the archive was not written by runwarden or was tampered with`;
}

function octal(mode: number): string {
  return `0o${mode.toString(8).padStart(6, '0')}`;
}

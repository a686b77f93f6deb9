/**
 * Byte layouts of the ZIP records runwarden writes (PKWARE APPNOTE 6.3.x): local file headers,
 * central directory headers, the end records, ZIP64 where sizes or offsets need it. Pure functions
 * that return Buffers; zip-writer.ts does the I/O.
 */

const LOCAL_HEADER_SIG = 0x04034b50;
const CENTRAL_HEADER_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;

const ZIP64_EXTRA_ID = 0x0001;
const TIMESTAMP_EXTRA_ID = 0x5455;

/** Bit 11: names are UTF-8. No data descriptors (bit 3): sizes and CRC are patched into place. */
const FLAGS = 0x0800;
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** Made by Unix (3), spec 4.5, so external attributes carry a Unix mode. */
const VERSION_MADE_BY = (3 << 8) | VERSION_ZIP64;

export const MAX_32 = 0xffffffff;
const MAX_16 = 0xffff;

/** What the writer knows of an entry once its data is written. */
export interface ZipEntryRecord {
  name: Buffer;
  /** 0 store, 8 deflate. */
  method: number;
  mtime: Date;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the local header in the file. */
  offset: number;
  /** Whether the local header reserved a ZIP64 field (sizes may exceed 4 GiB). */
  zip64: boolean;
}

export function localHeader(
  entry: Omit<ZipEntryRecord, 'crc32' | 'compressedSize' | 'uncompressedSize'>,
): Buffer {
  const extra = Buffer.concat([
    entry.zip64 ? zip64Extra([0, 0]) : Buffer.alloc(0),
    timestampExtra(entry.mtime),
  ]);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(LOCAL_HEADER_SIG, 0);
  header.writeUInt16LE(entry.zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, 4);
  header.writeUInt16LE(FLAGS, 6);
  header.writeUInt16LE(entry.method, 8);
  writeDosTime(header, 10, entry.mtime);
  // crc32 (14) and sizes (18, 22) are patched once the data is written
  if (entry.zip64) {
    header.writeUInt32LE(MAX_32, 18);
    header.writeUInt32LE(MAX_32, 22);
  }
  header.writeUInt16LE(entry.name.length, 26);
  header.writeUInt16LE(extra.length, 28);
  return Buffer.concat([header, entry.name, extra]);
}

/**
 * The bytes that replace a local header's placeholders once the data is known, as (position,
 * bytes) pairs relative to the header's start.
 */
export function localHeaderPatches(entry: ZipEntryRecord): Array<[number, Buffer]> {
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(entry.crc32 >>> 0, 0);
  if (entry.zip64) {
    const sizes = Buffer.alloc(16);
    sizes.writeBigUInt64LE(BigInt(entry.uncompressedSize), 0);
    sizes.writeBigUInt64LE(BigInt(entry.compressedSize), 8);
    // 30 + name + the zip64 extra's own 4-byte header
    return [
      [14, crc],
      [30 + entry.name.length + 4, sizes],
    ];
  }
  const sizes = Buffer.alloc(8);
  sizes.writeUInt32LE(entry.compressedSize, 0);
  sizes.writeUInt32LE(entry.uncompressedSize, 4);
  return [
    [14, crc],
    [18, sizes],
  ];
}

export function centralHeader(entry: ZipEntryRecord): Buffer {
  const offset64 = entry.offset >= MAX_32;
  const values: number[] = [];
  if (entry.zip64) values.push(entry.uncompressedSize, entry.compressedSize);
  if (offset64) values.push(entry.offset);
  const extra = Buffer.concat([
    values.length > 0 ? zip64Extra(values) : Buffer.alloc(0),
    timestampExtra(entry.mtime),
  ]);
  const header = Buffer.alloc(46);
  header.writeUInt32LE(CENTRAL_HEADER_SIG, 0);
  header.writeUInt16LE(VERSION_MADE_BY, 4);
  header.writeUInt16LE(entry.zip64 || offset64 ? VERSION_ZIP64 : VERSION_DEFLATE, 6);
  header.writeUInt16LE(FLAGS, 8);
  header.writeUInt16LE(entry.method, 10);
  writeDosTime(header, 12, entry.mtime);
  header.writeUInt32LE(entry.crc32 >>> 0, 16);
  header.writeUInt32LE(entry.zip64 ? MAX_32 : entry.compressedSize, 20);
  header.writeUInt32LE(entry.zip64 ? MAX_32 : entry.uncompressedSize, 24);
  header.writeUInt16LE(entry.name.length, 28);
  header.writeUInt16LE(extra.length, 30);
  // comment length (32), disk number (34), internal attributes (36) stay 0
  header.writeUInt32LE(((0o100644 << 16) >>> 0) as number, 38);
  header.writeUInt32LE(offset64 ? MAX_32 : entry.offset, 42);
  return Buffer.concat([header, entry.name, extra]);
}

/** The end records: ZIP64 end record and locator when needed, then the classic end record. */
export function endRecords(entryCount: number, directoryOffset: number, directorySize: number): Buffer {
  const needs64 = entryCount >= MAX_16 || directoryOffset >= MAX_32 || directorySize >= MAX_32;
  const parts: Buffer[] = [];
  if (needs64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(ZIP64_EOCD_SIG, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(VERSION_MADE_BY, 12);
    record.writeUInt16LE(VERSION_ZIP64, 14);
    // disk numbers (16, 20) stay 0
    record.writeBigUInt64LE(BigInt(entryCount), 24);
    record.writeBigUInt64LE(BigInt(entryCount), 32);
    record.writeBigUInt64LE(BigInt(directorySize), 40);
    record.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_LOCATOR_SIG, 0);
    locator.writeBigUInt64LE(BigInt(directoryOffset + directorySize), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD_SIG, 0);
  end.writeUInt16LE(Math.min(entryCount, MAX_16), 8);
  end.writeUInt16LE(Math.min(entryCount, MAX_16), 10);
  end.writeUInt32LE(needs64 ? MAX_32 : directorySize, 12);
  end.writeUInt32LE(needs64 ? MAX_32 : directoryOffset, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

function zip64Extra(values: number[]): Buffer {
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(ZIP64_EXTRA_ID, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  for (const [index, value] of values.entries()) extra.writeBigUInt64LE(BigInt(value), 4 + 8 * index);
  return extra;
}

/** Info-ZIP extended timestamp: the exact mtime in Unix seconds, independent of time zones. */
function timestampExtra(mtime: Date): Buffer {
  const extra = Buffer.alloc(9);
  extra.writeUInt16LE(TIMESTAMP_EXTRA_ID, 0);
  extra.writeUInt16LE(5, 2);
  extra.writeUInt8(1, 4); // mtime present
  extra.writeInt32LE(Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.floor(mtime.getTime() / 1000))), 5);
  return extra;
}

/** MS-DOS date and time (UTC wall clock; the timestamp extra field carries the exact instant). */
function writeDosTime(target: Buffer, at: number, date: Date): void {
  const year = Math.min(Math.max(date.getUTCFullYear(), 1980), 2107);
  const time =
    (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2);
  const day = ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate();
  target.writeUInt16LE(time, at);
  target.writeUInt16LE(day, at + 2);
}

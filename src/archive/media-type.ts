import path from 'node:path';
import type { CompressionMethod } from './manifest.js';

/**
 * Deflate or store, decided from a file's extension and its first bytes. Already-compressed formats
 * (images, video, audio, archives, office files, PDF, fonts) gain nothing from deflate and cost CPU,
 * so they are stored. The magic bytes win when they can be checked: a `.jpg` that is really text is
 * deflated, and a compressed file without a telling extension is still stored.
 */

/** How many leading bytes `chooseMethod` needs to see. */
export const MAGIC_BYTES = 16;

type Sniffer = (head: Buffer) => boolean;

const startsWith =
  (...bytes: number[]): Sniffer =>
  (head) =>
    bytes.every((byte, index) => head[index] === byte);
const ascii = (text: string, at = 0): Sniffer => {
  const bytes = Buffer.from(text, 'latin1');
  return (head) => head.length >= at + bytes.length && head.subarray(at, at + bytes.length).equals(bytes);
};

/** Compressed formats with a reliable signature, by name. */
const SIGNATURES: Record<string, Sniffer> = {
  jpeg: startsWith(0xff, 0xd8, 0xff),
  png: startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
  gif: (head) => ascii('GIF87a')(head) || ascii('GIF89a')(head),
  riff: (head) => ascii('RIFF')(head) && (ascii('WEBP', 8)(head) || ascii('AVI ', 8)(head)),
  pdf: ascii('%PDF-'),
  zip: (head) => ascii('PK\x03\x04')(head) || ascii('PK\x05\x06')(head),
  gzip: startsWith(0x1f, 0x8b),
  bzip2: ascii('BZh'),
  xz: startsWith(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00),
  zstd: startsWith(0x28, 0xb5, 0x2f, 0xfd),
  '7z': startsWith(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c),
  rar: ascii('Rar!\x1a\x07'),
  isobmff: ascii('ftyp', 4), // mp4, mov, m4a, heic, avif
  matroska: startsWith(0x1a, 0x45, 0xdf, 0xa3), // mkv, webm
  ogg: ascii('OggS'),
  flac: ascii('fLaC'),
  mp3: (head) => ascii('ID3')(head) || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0),
  woff: (head) => ascii('wOFF')(head) || ascii('wOF2')(head),
  jxl: (head) => startsWith(0xff, 0x0a)(head) || ascii('JXL ', 4)(head),
};

/** Extensions of compressed formats, and the signature that confirms them (undefined: none to check). */
const EXTENSIONS: Record<string, string | undefined> = {
  jpg: 'jpeg',
  jpeg: 'jpeg',
  png: 'png',
  gif: 'gif',
  webp: 'riff',
  avi: 'riff',
  pdf: 'pdf',
  zip: 'zip',
  docx: 'zip',
  xlsx: 'zip',
  pptx: 'zip',
  odt: 'zip',
  ods: 'zip',
  odp: 'zip',
  epub: 'zip',
  jar: 'zip',
  apk: 'zip',
  gz: 'gzip',
  tgz: 'gzip',
  bz2: 'bzip2',
  xz: 'xz',
  zst: 'zstd',
  '7z': '7z',
  rar: 'rar',
  mp4: 'isobmff',
  m4v: 'isobmff',
  m4a: 'isobmff',
  mov: 'isobmff',
  heic: 'isobmff',
  heif: 'isobmff',
  avif: 'isobmff',
  mkv: 'matroska',
  webm: 'matroska',
  ogg: 'ogg',
  oga: 'ogg',
  ogv: 'ogg',
  opus: 'ogg',
  flac: 'flac',
  mp3: 'mp3',
  woff: 'woff',
  woff2: 'woff',
  jxl: 'jxl',
  // no reliable signature: trust the name
  br: undefined,
  aac: undefined,
  lz4: undefined,
};

/** `store` for already-compressed content, `deflate` otherwise. `head` is the file's first bytes. */
export function chooseMethod(fileName: string, head: Buffer): CompressionMethod {
  const extension = path.extname(fileName).slice(1).toLowerCase();
  if (extension in EXTENSIONS) {
    const signature = EXTENSIONS[extension];
    if (signature === undefined) return 'store';
    // An empty or too-short file cannot be checked; it is tiny, so the method hardly matters.
    if (head.length === 0) return 'store';
    if ((SIGNATURES[signature] as Sniffer)(head)) return 'store';
  }
  return Object.values(SIGNATURES).some((sniff) => sniff(head)) ? 'store' : 'deflate';
}

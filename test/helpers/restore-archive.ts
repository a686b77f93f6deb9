import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import yazl from 'yazl';
import type { EntryKind, Manifest } from '../../src/archive/manifest.js';

/** One entry of a hand-built test archive. */
export interface FixtureEntry {
  path: string;
  kind: EntryKind;
  tenant?: string;
  data: Buffer;
  /** Unix mode for the ZIP's external attributes, e.g. 0o120777 for a symlink entry. */
  mode?: number;
}

/**
 * Writes a ZIP in runwarden's archive format (entries + manifest.json listing their sizes, SHA-256
 * and CRC-32) without the backup writer, so restore tests can also craft archives the writer would
 * never produce (symlink entries, hostile names). Returns the manifest written. `store` stores every
 * entry uncompressed (manifest included), so two archives whose entries and manifest have the same
 * lengths have the same size.
 */
export async function writeFixtureArchive(
  file: string,
  entries: FixtureEntry[],
  tamper?: (manifest: Manifest) => void,
  options: { store?: boolean } = {},
): Promise<Manifest> {
  const zip = new yazl.ZipFile();
  const compressed = (entry: FixtureEntry) => !options.store && entry.kind !== 'media';
  for (const entry of entries) {
    zip.addBuffer(entry.data, entry.path, {
      compress: compressed(entry),
      ...(entry.mode ? { mode: entry.mode } : {}),
    });
  }
  const manifest = fixtureManifest(entries, (entry) => (compressed(entry) ? 'deflate' : 'store'));
  tamper?.(manifest);
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), 'manifest.json', {
    compress: !options.store,
  });
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
  return manifest;
}

/**
 * The manifest runwarden would write for `entries` (sizes, SHA-256, CRC-32), each stored with the
 * method `methodOf` gives; for archives built by other tools (Info-ZIP `zip`).
 */
export function fixtureManifest(
  entries: FixtureEntry[],
  methodOf: (entry: FixtureEntry) => 'store' | 'deflate',
): Manifest {
  const now = new Date().toISOString();
  const manifest: Manifest = {
    format_version: 1,
    runwarden_version: 'test',
    host: hostname(),
    reason: 'manual',
    trigger: 'cli',
    started_at: now,
    finished_at: now,
    databases: [],
    entries: [],
  };
  for (const entry of entries) {
    manifest.entries.push({
      path: entry.path,
      kind: entry.kind,
      ...(entry.tenant ? { tenant: entry.tenant } : {}),
      size: entry.data.length,
      sha256: createHash('sha256').update(entry.data).digest('hex'),
      crc32: crc32(entry.data) >>> 0,
      method: methodOf(entry),
    });
    if (entry.kind !== 'media') {
      manifest.databases.push({
        entry: entry.path,
        source: `/fixture/${entry.path}`,
        journal_mode: 'wal',
        page_count: Math.ceil(entry.data.length / 4096),
        size: entry.data.length,
        snapshot_at: now,
      });
    }
  }
  return manifest;
}

/** A small SQLite database file's bytes holding `rows` in table `items(id, label)`. */
export function databaseBytes(dir: string, name: string, rows: string[]): Buffer {
  const file = path.join(dir, `.${name}.fixture.sqlite3`);
  createDatabase(file, rows);
  const bytes = readFileSync(file);
  rmSync(file);
  return bytes;
}

/** Creates a database at `file` holding `rows` (WAL mode, fully checkpointed, no -wal left). */
export function createDatabase(file: string, rows: string[]): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO items (label) VALUES (?)');
  for (const row of rows) insert.run(row);
  db.close();
}

/** The labels in `items`, in id order, read through SQLite (so a -wal is honoured). */
export function labelsIn(file: string): string[] {
  const db = new Database(file, { fileMustExist: true });
  try {
    return db.prepare('SELECT label FROM items ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

/**
 * Rewrites entry names in a finished ZIP (local headers and central directory alike), keeping
 * their length, to smuggle in names yazl refuses to write (`../evil`, `/abs`).
 */
export function renameEntriesInPlace(file: string, from: string, to: string): void {
  if (from.length !== to.length) throw new Error('names must have the same length');
  const bytes = readFileSync(file);
  const needle = Buffer.from(from);
  let at = bytes.indexOf(needle);
  let count = 0;
  while (at !== -1) {
    Buffer.from(to).copy(bytes, at);
    count++;
    at = bytes.indexOf(needle, at + needle.length);
  }
  if (count === 0) throw new Error(`no entry named ${from}`);
  writeFileSync(file, bytes);
}

/**
 * Rewrites, in place, the central-directory record of `entry` in a finished ZIP so it says the
 * entry is of Unix `mode` (e.g. 0o120777, a symlink): the file keeps its size and its manifest,
 * as an archive tampered with after it was cataloged would.
 */
export function setEntryModeInPlace(file: string, entry: string, mode: number): void {
  const bytes = readFileSync(file);
  const name = Buffer.from(entry);
  for (let at = bytes.indexOf(name); at !== -1; at = bytes.indexOf(name, at + 1)) {
    const header = at - 46;
    if (header < 0 || bytes.readUInt32LE(header) !== 0x02014b50) continue;
    if (bytes.readUInt16LE(header + 28) !== name.length) continue;
    bytes.writeUInt32LE((mode << 16) >>> 0, header + 38);
    writeFileSync(file, bytes);
    return;
  }
  throw new Error(`no central-directory record for ${entry}`);
}

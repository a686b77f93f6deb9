import { FatalError } from './errors.js';

/**
 * The shared copy of a watcher's decision state in the bucket, and the decisions about it. Pure.
 *
 * The object is one header line and the store's SQLite image: `RWSTATE1\n{json}\n<sqlite bytes>`.
 * The header travels with the bytes it describes (object metadata could belong to another
 * generation than the bytes read), and says which store schema the image has, so an older
 * runwarden refuses a copy it would misread.
 */
export const STATE_COPY_MAGIC = 'RWSTATE1\n';

export interface StateCopyHeader {
  /** The store schema version of the image (its last migration). */
  schemaVersion: number;
  /** Epoch ms, by the writer's clock. */
  writtenAt: number;
  /** Who wrote it: the daemon's owner string (host and pid). */
  holder: string;
  /** The runwarden version that wrote it. */
  runwarden: string;
}

export function encodeStateCopy(header: StateCopyHeader, image: Buffer): Buffer {
  const json = JSON.stringify({
    schema_version: header.schemaVersion,
    written_at: new Date(header.writtenAt).toISOString(),
    holder: header.holder,
    runwarden: header.runwarden,
  });
  return Buffer.concat([Buffer.from(`${STATE_COPY_MAGIC}${json}\n`), image]);
}

/** Splits a copy into its header and image; RW_STATE_COPY_INVALID naming what is wrong otherwise. */
export function decodeStateCopy(bytes: Buffer, name: string): { header: StateCopyHeader; image: Buffer } {
  const invalid = (what: string) =>
    new FatalError('RW_STATE_COPY_INVALID', `state copy ${name} is not a runwarden state copy: ${what}`);
  if (bytes.subarray(0, STATE_COPY_MAGIC.length).toString('latin1') !== STATE_COPY_MAGIC)
    throw invalid(`expected it to start with ${JSON.stringify(STATE_COPY_MAGIC)}`);
  const end = bytes.indexOf(0x0a, STATE_COPY_MAGIC.length);
  if (end < 0) throw invalid('its header line has no end');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(bytes.subarray(STATE_COPY_MAGIC.length, end).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    throw invalid('its header is not JSON');
  }
  const writtenAt = typeof raw.written_at === 'string' ? Date.parse(raw.written_at) : Number.NaN;
  if (!Number.isInteger(raw.schema_version) || (raw.schema_version as number) < 1)
    throw invalid(`expected schema_version a positive integer, got ${JSON.stringify(raw.schema_version)}`);
  if (Number.isNaN(writtenAt))
    throw invalid(`expected written_at a time, got ${JSON.stringify(raw.written_at)}`);
  return {
    header: {
      schemaVersion: raw.schema_version as number,
      writtenAt,
      holder: typeof raw.holder === 'string' ? raw.holder : 'unknown',
      runwarden: typeof raw.runwarden === 'string' ? raw.runwarden : 'unknown',
    },
    image: bytes.subarray(end + 1),
  };
}

/** A copy written by a newer runwarden: its schema would be misread, so it is refused whole. */
export function checkCopySchema(header: StateCopyHeader, known: number, name: string): void {
  if (header.schemaVersion > known)
    throw new FatalError(
      'RW_STATE_COPY_TOO_NEW',
      `state copy ${name} has store schema version ${header.schemaVersion} (written by runwarden ${header.runwarden} on ${header.holder}); this runwarden knows up to ${known}. Upgrade this runwarden; the local store was left untouched.`,
    );
}

export interface LocalState {
  /** Any decision state stored locally. */
  hasState: boolean;
  /** The generation of the copy this store last wrote or was restored from. */
  copiedGeneration: number | undefined;
}

export type RestoreDecision =
  | { kind: 'none'; why: 'no_copy' | 'same_copy' }
  | { kind: 'restore'; why: 'empty' | 'newer' };

/**
 * Whether the bucket's copy (its generation; undefined when there is none) replaces the local
 * decision state before this instance acts. The local store wins only when it is the copy's own
 * source: it wrote (or restored) that very generation, so it holds everything in it and maybe more.
 * Any other generation was written by another leader after this store last synced: it is newer.
 * A store that never synced but holds state gives way too: the bucket is the record of the
 * cluster (its replaced rows are kept in a safety copy by the caller).
 */
export function restoreDecision(local: LocalState, remoteGeneration: number | undefined): RestoreDecision {
  if (remoteGeneration === undefined) return { kind: 'none', why: 'no_copy' };
  if (!local.hasState) return { kind: 'restore', why: 'empty' };
  if (local.copiedGeneration === remoteGeneration) return { kind: 'none', why: 'same_copy' };
  return { kind: 'restore', why: 'newer' };
}

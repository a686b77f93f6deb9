import { z } from 'zod';

/** The name of the manifest inside every archive; always the last entry written. */
export const MANIFEST_ENTRY = 'manifest.json';

/**
 * The manifest format this runwarden writes and the newest it reads. Additive changes (new optional
 * fields) keep the version; unknown fields are ignored when reading. A breaking change bumps it, and
 * an older runwarden then refuses the archive (BackupFormatError) rather than misreading it.
 */
export const MANIFEST_FORMAT_VERSION = 1;

/** Largest manifest accepted when reading, so a hostile archive cannot make us buffer gigabytes. */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;

const isoWithOffset = z.iso.datetime({ offset: true });
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
const byteCount = z.number().int().nonnegative();

/** A tenant id as it appears in `tenants/<id>.sqlite3`: one path segment, no dots-only names. */
export const TENANT_ID_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;

export const entryKinds = ['db', 'tenant', 'media'] as const;
export type EntryKind = (typeof entryKinds)[number];

export const compressionMethods = ['deflate', 'store'] as const;
export type CompressionMethod = (typeof compressionMethods)[number];

/**
 * Why an archive entry path is unsafe or malformed, or undefined when it is fine. Paths use `/`, are
 * relative, and have no empty, `.` or `..` segments, so no entry can land outside its target folder.
 */
export function entryPathProblem(path: string, kind: EntryKind, tenant?: string): string | undefined {
  if (path.includes('\\') || path.includes('\0')) return 'contains a backslash or NUL';
  const segments = path.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..'))
    return 'has an empty, "." or ".." segment (or is absolute)';
  const [top, ...rest] = segments;
  switch (kind) {
    case 'db':
      return top === 'db' && rest.length === 1 ? undefined : 'a db entry must be db/<name>';
    case 'tenant': {
      const id = rest.length === 1 && rest[0]?.endsWith('.sqlite3') ? rest[0].slice(0, -8) : undefined;
      if (top !== 'tenants' || id === undefined || !TENANT_ID_PATTERN.test(id))
        return 'a tenant entry must be tenants/<id>.sqlite3';
      return tenant === id ? undefined : `its tenant field must be "${id}"`;
    }
    case 'media':
      return top === 'media' && rest.length >= 1 ? undefined : 'a media entry must be media/<path>';
  }
}

export const manifestEntrySchema = z.object({
  /** Path inside the archive: `db/<name>`, `tenants/<id>.sqlite3` or `media/<relative path>`. */
  path: z.string().min(1),
  kind: z.enum(entryKinds),
  /** The tenant id, for kind `tenant` only. */
  tenant: z.string().optional(),
  /** Uncompressed size in bytes. */
  size: byteCount,
  sha256: sha256Hex,
  /** CRC-32 of the uncompressed bytes, as an unsigned 32-bit integer (the ZIP's own checksum). */
  crc32: z.number().int().min(0).max(0xffffffff),
  method: z.enum(compressionMethods),
});

export const manifestDatabaseSchema = z.object({
  /** The archive entry holding this database's snapshot. */
  entry: z.string().min(1),
  /** Absolute path of the database that was snapshotted. */
  source: z.string().min(1),
  /** The source's journal mode at snapshot time (`wal`, `delete`, ...). */
  journal_mode: z.string(),
  page_count: byteCount,
  /** Size of the snapshot in bytes. */
  size: byteCount,
  /** When the snapshot's read transaction began: the committed state the snapshot holds. */
  snapshot_at: isoWithOffset,
  /** How many times the copy restarted because the source changed underneath it. */
  restarts: z.number().int().nonnegative().optional(),
  /**
   * Rows per table of the snapshot as archived (tables named `sqlite_*` and virtual tables left
   * out). Absent in archives written before restore drills: a drill then checks integrity and
   * hashes only.
   */
  tables: z.record(z.string(), byteCount).optional(),
  /** The snapshot's schema: see databaseFacts in sqlite-facts.ts. Absent like `tables`. */
  schema: z
    .object({
      /** SHA-256 of the sorted (type, name, sql) rows of sqlite_master, `sqlite_*` objects left out. */
      sha256: sha256Hex,
      /**
       * `PRAGMA user_version` (what migration tools set). Not schema_version: SQLite's backup API
       * resets that counter in every snapshot, so it says nothing about the source.
       */
      user_version: z.number().int(),
    })
    .optional(),
});

export const manifestSchema = z
  .object({
    format_version: z.number().int().positive(),
    runwarden_version: z.string(),
    host: z.string(),
    /** Why the backup was taken: `manual`, `pre-deploy`, `scheduled`. */
    reason: z.string().min(1),
    /** What started it: `cli`, `schedule`, `http`, `watch`, `startup`. */
    trigger: z.string().min(1),
    /**
     * The Cloud Run revision (K_REVISION) of the runwarden that took it, when it runs in one (a
     * backup sidecar): a new revision's sidecar backs up before it reports started unless the
     * newest archive already names its revision. Absent elsewhere and in older archives.
     */
    revision: z.string().min(1).optional(),
    started_at: isoWithOffset,
    finished_at: isoWithOffset,
    databases: z.array(manifestDatabaseSchema),
    entries: z.array(manifestEntrySchema),
    /** Things an operator should know about this backup (e.g. a database in rollback-journal mode). */
    warnings: z.array(z.string()).optional(),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Map<string, EntryKind>();
    manifest.entries.forEach((entry, index) => {
      const problem = entryPathProblem(entry.path, entry.kind, entry.tenant);
      if (problem) ctx.addIssue({ code: 'custom', path: ['entries', index, 'path'], message: problem });
      if (entry.path === MANIFEST_ENTRY || seen.has(entry.path))
        ctx.addIssue({ code: 'custom', path: ['entries', index, 'path'], message: 'duplicate entry path' });
      seen.set(entry.path, entry.kind);
    });
    manifest.databases.forEach((database, index) => {
      const kind = seen.get(database.entry);
      if (kind !== 'db' && kind !== 'tenant')
        ctx.addIssue({
          code: 'custom',
          path: ['databases', index, 'entry'],
          message: 'must name a db or tenant entry of this manifest',
        });
    });
  });

/** The manifest.json of one archive. Times are ISO-8601 with an offset; sizes are bytes. */
export type Manifest = z.output<typeof manifestSchema>;
export type ManifestEntry = z.output<typeof manifestEntrySchema>;
export type ManifestDatabase = z.output<typeof manifestDatabaseSchema>;

/** The ZIP compression method number of a manifest method (APPNOTE 4.4.5). */
export const ZIP_METHOD: Record<CompressionMethod, number> = { store: 0, deflate: 8 };

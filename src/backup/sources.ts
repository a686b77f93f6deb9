import { type Dirent, statSync } from 'node:fs';
import { opendir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackupSourcesConfig } from '../config/schema/backup.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { BackupSourceMissingError } from '../archive/errors.js';
import { globMatcher } from './glob.js';
import { entryPathProblem, TENANT_ID_PATTERN } from '../archive/manifest.js';

/** A database to snapshot and the archive entry it becomes. */
export interface DatabaseSource {
  kind: 'db' | 'tenant';
  /** `db/<file name>` or `tenants/<id>.sqlite3`. */
  entry: string;
  file: string;
  tenant?: string;
  /** Size of the live file when listed (progress estimate only). */
  size: number;
}

/** A media file and its archive entry (`media/<relative path>`). */
export interface MediaSource {
  entry: string;
  file: string;
  size: number;
  mtime: Date;
}

export interface ResolvedSources {
  databases: DatabaseSource[];
  media: MediaSource[];
  /** Optional sources that were missing, and files that were skipped, for the log and the manifest. */
  warnings: string[];
}

/**
 * Lists what a backup will hold. A missing required source throws BackupSourceMissingError naming
 * it (`main_db`, `tenants`, `media`) and the path; an optional one becomes a warning. Symbolic links
 * under the media folder and names an archive cannot hold safely are skipped with a warning.
 */
export async function resolveSources(sources: BackupSourcesConfig): Promise<ResolvedSources> {
  const warnings: string[] = [];
  const databases: DatabaseSource[] = [];
  const missing = (source: string, isRequired: boolean, problem: string) => {
    if (isRequired) throw new BackupSourceMissingError(source, problem);
    warnings.push(`optional source ${source} skipped: ${problem}`);
  };

  const mainDb = sources.main_db.path;
  const mainSize = await fileSize(mainDb);
  if (mainSize === undefined)
    missing('main_db', sources.main_db.required, `${mainDb} is missing (or not a file)`);
  else databases.push({ kind: 'db', entry: `db/${path.basename(mainDb)}`, file: mainDb, size: mainSize });

  const tenants = await listTenants(sources.tenants.pattern, warnings);
  if (tenants === undefined)
    missing('tenants', sources.tenants.required, `folder of ${sources.tenants.pattern} does not exist`);
  else if (tenants.length === 0)
    missing('tenants', sources.tenants.required, `no tenant database matches ${sources.tenants.pattern}`);
  else databases.push(...tenants.filter((tenant) => tenant.file !== mainDb));

  let media: MediaSource[] = [];
  const mediaDir = sources.media.dir;
  const mediaInfo = await stat(mediaDir).catch(() => undefined);
  if (!mediaInfo?.isDirectory())
    missing('media', sources.media.required, `folder ${mediaDir} does not exist`);
  else media = await listMedia(mediaDir, sources.media.include, sources.media.exclude, warnings);
  return { databases, media, warnings };
}

/** Files SQLite keeps beside a database; never databases of their own. */
const SQLITE_SIDECAR = /-(wal|shm|journal)$/;

/** The tenant databases `pattern` matches; undefined when the folder before `{tenant}` does not exist. */
export async function listTenants(
  pattern: string,
  warnings: string[],
): Promise<DatabaseSource[] | undefined> {
  const segments = pattern.split('/');
  const at = segments.findIndex((segment) => segment.includes('{tenant}'));
  const dir = segments.slice(0, at).join('/') || '/';
  const rest = segments.slice(at + 1);
  const [before, after] = (segments[at] as string).split('{tenant}') as [string, string];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const found: DatabaseSource[] = [];
  for (const name of names.sort()) {
    if (!name.startsWith(before) || !name.endsWith(after) || name.length <= before.length + after.length)
      continue;
    if (SQLITE_SIDECAR.test(name)) continue;
    const id = name.slice(before.length, name.length - after.length);
    const file = path.join(dir, name, ...rest);
    const size = await fileSize(file);
    if (size === undefined) continue;
    if (!TENANT_ID_PATTERN.test(id)) {
      warnings.push(
        `tenant database ${file} skipped: its id ${JSON.stringify(id)} is not letters, digits, . _ -`,
      );
      continue;
    }
    found.push({ kind: 'tenant', entry: `tenants/${id}.sqlite3`, file, tenant: id, size });
  }
  return found;
}

async function listMedia(
  dir: string,
  include: readonly string[],
  exclude: readonly string[],
  warnings: string[],
): Promise<MediaSource[]> {
  let included: (file: string) => boolean;
  let excluded: (file: string) => boolean;
  try {
    included = globMatcher(include);
    excluded = globMatcher(exclude);
  } catch (error) {
    throw new ConfigError(`backup.sources.media: ${errorMessage(error)}`, [
      `backup.sources.media: ${errorMessage(error)}`,
    ]);
  }
  const files: MediaSource[] = [];
  let links = 0;
  const walk = async (folder: string, relative: string): Promise<void> => {
    const entries: Dirent[] = [];
    for await (const entry of await opendir(folder)) entries.push(entry);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      const full = path.join(folder, entry.name);
      if (entry.isSymbolicLink()) links++;
      else if (entry.isDirectory()) await walk(full, rel);
      else if (entry.isFile() && included(rel) && !excluded(rel)) {
        const entryPath = `media/${rel}`;
        const problem = entryPathProblem(entryPath, 'media');
        if (problem) {
          warnings.push(`media file ${full} skipped: its name ${problem}`);
          continue;
        }
        // statSync: ~3 us against ~60 us for a thread-pool round trip, per file of a large folder.
        const info = statSync(full, { throwIfNoEntry: false });
        if (info) files.push({ entry: entryPath, file: full, size: info.size, mtime: info.mtime });
        if (files.length % 1000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  };
  await walk(dir, '');
  if (links > 0) warnings.push(`${links} symbolic link(s) under ${dir} skipped`);
  return files;
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return undefined;
    throw error;
  }
}

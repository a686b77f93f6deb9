import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { listTenants } from '../backup/sources.js';
import type { BackupConfig } from '../config/schema/backup.js';
import { errorMessage } from '../core/errors.js';
import type { ConfigProblemKind } from '../telemetry/metrics-config.js';

/** One thing the daemon found wrong with its configuration, in words a person can act on. */
export interface ConfigProblem {
  kind: ConfigProblemKind;
  /** What has the problem: `main_db`, `tenants`, `media`, `backup.dir`, or a service's name. */
  subject: string;
  message: string;
}

/**
 * What would make the next backup fail, found now rather than at its scheduled hour: a required
 * source that is missing, any source that exists but cannot be read, a backup folder that cannot
 * be written. Reads metadata only (no media walk, no database opened). Never throws.
 */
export async function backupProblems(backup: BackupConfig): Promise<ConfigProblem[]> {
  const { main_db, tenants, media } = backup.sources;
  const found = await Promise.all([
    fileProblem('main_db', main_db.path, main_db.required),
    tenantsProblem(tenants.pattern, tenants.required),
    folderProblem('media', media.dir, media.required),
    backupDirProblem(backup.dir),
  ]);
  return found.filter((problem) => problem !== undefined);
}

const UID = process.getuid?.() ?? 'unknown';

/**
 * As resolveSources decides at backup time: a required source that is absent (or not of its kind)
 * fails the backup, an optional one is skipped; one that exists but cannot be read fails it either way.
 */
function missing(subject: string, what: string, required: boolean): ConfigProblem | undefined {
  if (!required) return undefined;
  return sourceProblem(
    subject,
    `${what}; every backup fails until it is there (or set backup.sources.${subject}.required: false)`,
  );
}

function unreadable(subject: string, what: string): ConfigProblem {
  return sourceProblem(subject, `${what}; every backup fails until it is fixed`);
}

function sourceProblem(subject: string, message: string): ConfigProblem {
  return { kind: 'backup_source', subject, message: `backup source ${subject}: ${message}` };
}

async function fileProblem(subject: string, file: string, required: boolean) {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return missing(subject, `${file} does not exist (or is not a file)`, required);
  if (!(await allowed(file, constants.R_OK)))
    return unreadable(subject, `${file} is not readable by uid ${UID}`);
  return undefined;
}

async function folderProblem(subject: string, dir: string, required: boolean) {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return missing(subject, `folder ${dir} does not exist`, required);
  if (!(await allowed(dir, constants.R_OK | constants.X_OK)))
    return unreadable(subject, `folder ${dir} is not readable by uid ${UID}`);
  return undefined;
}

async function tenantsProblem(pattern: string, required: boolean) {
  let found: Awaited<ReturnType<typeof listTenants>>;
  try {
    found = await listTenants(pattern, []);
  } catch (error) {
    return unreadable('tenants', `cannot list ${pattern}: ${errorMessage(error)}`);
  }
  if (found === undefined) return missing('tenants', `the folder of ${pattern} does not exist`, required);
  if (found.length === 0) return missing('tenants', `no tenant database matches ${pattern}`, required);
  return undefined;
}

/** The folder must be writable, or, while it does not exist, the nearest folder above it. */
async function backupDirProblem(dir: string): Promise<ConfigProblem | undefined> {
  const problem = (message: string): ConfigProblem => ({
    kind: 'backup_dir',
    subject: 'backup.dir',
    message: `backup.dir ${message}; every backup fails until it is fixed`,
  });
  let existing = dir;
  for (;;) {
    const info = await stat(existing).catch(() => undefined);
    if (info) {
      if (!info.isDirectory()) return problem(`${dir}: ${existing} is not a folder`);
      break;
    }
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  if (await allowed(existing, constants.W_OK | constants.X_OK)) return undefined;
  return existing === dir
    ? problem(`${dir} is not writable by uid ${UID}`)
    : problem(`${dir} does not exist and ${existing} is not writable by uid ${UID} to create it`);
}

async function allowed(file: string, mode: number): Promise<boolean> {
  return access(file, mode).then(
    () => true,
    () => false,
  );
}

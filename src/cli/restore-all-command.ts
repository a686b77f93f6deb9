import type { App } from '../app/app.js';
import {
  type ArchiveLocation,
  bucketOpener,
  locateArchive,
  withArchiveFile,
} from '../app/remote-archives.js';
import { restoreJournalPath } from '../app/restore-recovery.js';
import { UsageError } from '../core/errors.js';
import { TENANT_ID_PATTERN } from '../archive/manifest.js';
import type { RestoreAllOutcome } from '../restore/restore-all.js';
import type { RestoreCatalog } from '../restore/restore-source.js';
import { recoverJournal } from '../restore/restore-journal.js';
import type { Logger } from '../telemetry/logger.js';
import { formatBytes } from '../util/format-bytes.js';
import type { GlobalOptions } from './common.js';
import { withInterrupt } from './interrupt.js';
import { printResult } from './output.js';
import { backupLockStep, preRestoreBackupStep } from './restore-steps.js';
import { restoreProgress } from './restore-progress.js';
import { withApp } from './with-app.js';

export interface RestoreAllOptions extends GlobalOptions {
  all?: boolean;
  tenants?: string;
  db?: string;
  tenant?: string;
  media?: boolean;
  target?: string;
  force?: boolean;
  backup?: boolean;
  verifyAll?: boolean;
  identity?: string;
}

/**
 * `restore <backup> --all [--tenants a,b]` and `restore <backup> --tenants a,b`: several targets
 * from one archive under one journal (runRestoreAll), local or fetched from the bucket.
 */
export async function restoreAllCommand(backup: string, options: RestoreAllOptions): Promise<void> {
  const tenants = tenantsOf(options);
  const outcome = await withApp(options, 'write', (app, loaded) => {
    const { config, logger } = app;
    const location = locateArchive(backup, config.backup.dir, app.store.backups);
    const preBackup = options.backup !== false && loaded.source !== undefined;
    if (options.backup !== false && !preBackup)
      logger.warn('no config file found: no pre-restore backup is taken (only the safety copies)');
    return withInterrupt(
      logger,
      'restore',
      'stopping the restore; before the swaps nothing is changed, during them they all finish',
      (signal) => restoreAllFrom(app, location, { tenants, options, preBackup, signal }),
    );
  });
  printResult(outcome, options.json === true, describeRestoreAll);
}

/**
 * The restore of several targets from an archive already located (local, or fetched from the
 * bucket first): `restore --all` and `emergency` both come through here.
 */
export function restoreAllFrom(
  app: App,
  location: ArchiveLocation,
  job: { tenants: string[] | undefined; options: RestoreAllOptions; preBackup: boolean; signal: AbortSignal },
): Promise<RestoreAllOutcome> {
  const { config } = app;
  const { options, signal } = job;
  return withArchiveFile(
    location,
    {
      backup: config.backup,
      catalog: app.store.backups,
      openBucket: bucketOpener(config.backup.offsite),
      ...(options.identity === undefined ? {} : { identityFile: options.identity }),
    },
    signal,
    ({ file, catalog }) => run(app, { archive: file, catalog, ...job }),
  );
}

function tenantsOf(options: RestoreAllOptions): string[] | undefined {
  if (options.db !== undefined || options.tenant !== undefined || options.media || options.target) {
    throw new UsageError(
      'restore: --all and --tenants restore the configured locations; they take no --db, --tenant, --media or --target',
    );
  }
  if (options.tenants === undefined) return undefined;
  const tenants = options.tenants
    .split(',')
    .map((tenant) => tenant.trim())
    .filter(Boolean);
  if (tenants.length === 0) throw new UsageError('--tenants: name at least one tenant id (a,b,c)');
  for (const tenant of tenants) {
    if (!TENANT_ID_PATTERN.test(tenant))
      throw new UsageError(
        `--tenants: ${JSON.stringify(tenant)} is not a tenant id (letters, digits, ".", "_" and "-")`,
      );
  }
  return [...new Set(tenants)];
}

async function run(
  app: App,
  job: {
    archive: string;
    catalog: RestoreCatalog;
    tenants: string[] | undefined;
    options: RestoreAllOptions;
    preBackup: boolean;
    signal: AbortSignal;
  },
): Promise<RestoreAllOutcome> {
  const { config, logger, store } = app;
  const progress = restoreProgress(logger);
  const { runRestoreAll } = await import('../restore/restore-all.js');
  try {
    return await runRestoreAll({
      archive: job.archive,
      sources: config.backup.sources,
      all: job.options.all === true,
      tenants: job.tenants,
      force: job.options.force === true,
      verifyAll: job.options.verifyAll === true,
      signal: job.signal,
      journal: restoreJournalPath(config),
      restores: store.restores,
      catalog: job.catalog,
      onProgress: (event) => progress.report(event),
      preRestoreBackup: job.preBackup ? preRestoreBackupStep(app, progress) : undefined,
      lock: backupLockStep(app),
    });
  } finally {
    progress.done();
  }
}

/**
 * Before a single restore: a restore of several targets stopped mid-swap is finished or undone
 * first, so no restore starts over a half-swapped site.
 */
export async function finishInterruptedRestoreFirst(app: App, logger: Logger): Promise<void> {
  const recovered = await recoverJournal(restoreJournalPath(app.config));
  if (recovered)
    logger.warn(
      { journal: recovered.journal, direction: recovered.direction, targets: recovered.targets },
      recovered.direction === 'forward'
        ? 'finished a restore that was stopped mid-swap'
        : 'undid a restore that was stopped mid-swap: every target is as it was before it',
    );
}

export function describeRestoreAll(outcome: RestoreAllOutcome): string {
  const lines: string[] = [];
  if (outcome.recovered)
    lines.push(
      `first ${outcome.recovered.direction === 'forward' ? 'finished' : 'undid'} the restore from ` +
        `${outcome.recovered.archive} that was stopped mid-swap`,
    );
  lines.push(
    `restored ${outcome.targets.length} target(s) from ${outcome.archive} ` +
      `(${outcome.files} files, ${formatBytes(outcome.bytes)}; verified: ${outcome.verification.method})`,
  );
  for (const target of outcome.targets) {
    const what =
      target.kind === 'media' ? 'media' : target.kind === 'db' ? 'main database' : `tenant ${target.name}`;
    const kept =
      target.safetyCopy === null
        ? 'nothing was there before'
        : `${target.kind === 'media' ? 'old folder moved to' : 'safety copy'} ${target.safetyCopy}`;
    lines.push(`  ${what}: ${target.target} (${formatBytes(target.bytes)}); ${kept}`);
  }
  if (outcome.preRestoreBackup) lines.push(`  pre-restore backup: ${outcome.preRestoreBackup}`);
  return lines.join('\n');
}

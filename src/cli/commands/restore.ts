import type { Command } from 'commander';
import { type RestoreOutcome, runRestore } from '../../restore/restore.js';
import { type RestoreSelection, resolveTarget } from '../../restore/restore-targets.js';
import type { App } from '../../app/app.js';
import { UsageError } from '../../core/errors.js';
import {
  type ArchiveLocation,
  bucketOpener,
  type DownloadedArchive,
  locateArchive,
  withArchiveFile,
} from '../../app/remote-archives.js';
import type { BackupsRepo } from '../../store/backups-repo.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { withInterrupt } from '../interrupt.js';
import { printResult } from '../output.js';
import { backupLockStep, preRestoreBackupStep } from '../restore-steps.js';
import { restoreProgress } from '../restore-progress.js';
import { withApp } from '../with-app.js';
import { finishInterruptedRestoreFirst, restoreAllCommand } from '../restore-all-command.js';

export interface RestoreOptions extends GlobalOptions {
  db?: string;
  tenant?: string;
  media?: boolean;
  target?: string;
  force?: boolean;
  /** false with --no-backup. */
  backup?: boolean;
  verifyAll?: boolean;
  all?: boolean;
  tenants?: string;
  /** age identity file for an encrypted off-site copy. */
  identity?: string;
}

export function registerRestore(program: Command): void {
  withJsonOption(withConfigOption(program.command('restore')))
    .description(
      'restore the main database, one tenant or the media folder from a backup; what is restored is verified first ' +
        '(against the manifest the catalog vouches for; every entry for an archive the catalog lacks), ' +
        'the replaced database is kept as <db>.pre-restore-<timestamp>. Stop the app first.',
    )
    .argument(
      '<backup>',
      'archive path, its file name in backup.dir (its confirmed off-site copy when the file is gone), or gs://bucket/path.zip',
    )
    .option('--db <name>', 'restore the main database ("main")')
    .option('--tenant <id>', "restore one tenant's database")
    .option('--media', 'restore the media folder (files the archive lacks are kept)')
    .option('--target <path>', 'restore to this database file or media folder instead of the configured one')
    .option('--force', 'replace an existing database, or write into a media folder that holds files')
    .option('--no-backup', 'skip the full pre-restore backup (taken by default when a config file is found)')
    .option('--verify-all', 'verify every entry of the archive, not only the ones restored')
    .option(
      '--all',
      'restore the main database, every tenant in the archive and the media, under one journal',
    )
    .option(
      '--tenants <ids>',
      'restore these tenants (a,b,c) under one journal; with --all, instead of every tenant',
    )
    .option('--identity <file>', 'age identity file that decrypts an encrypted off-site copy (.zip.age)')
    .action(async (backup: string, options: RestoreOptions) => {
      if (options.all || options.tenants !== undefined) return restoreAllCommand(backup, options);
      const selection = selectionOf(options);
      const outcome = await withApp(options, 'write', (app, loaded) => {
        const { config, logger } = app;
        resolveTarget(selection, config.backup.sources, options.target); // usage errors first (exit 2)
        const location = locateArchive(backup, config.backup.dir, app.store.backups);
        const preBackup = options.backup !== false && loaded.source !== undefined;
        if (options.backup !== false && !preBackup) {
          logger.warn('no config file found: no pre-restore backup is taken (only the safety copy)');
        }
        return withInterrupt(
          logger,
          'restore',
          'stopping the restore; the target is left as it was or fully restored',
          (signal) => restoreOneFrom(app, location, { selection, options, preBackup, signal }),
        );
      });
      printResult(outcome, options.json === true, describeRestore);
    });
}

/**
 * One target restored from an archive already located (local, or fetched from the bucket first):
 * `restore --db/--tenant/--media` and `emergency` both come through here.
 */
export function restoreOneFrom(
  app: App,
  location: ArchiveLocation,
  job: { selection: RestoreSelection; options: RestoreOptions; preBackup: boolean; signal: AbortSignal },
): Promise<Outcome> {
  const { config, logger } = app;
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
    async ({ file, catalog, downloaded }) => {
      if (downloaded)
        logger.info(
          { url: downloaded.url, generation: downloaded.object.generation },
          'downloaded the archive from the bucket (CRC32C checked); verifying every entry',
        );
      const outcome = await restoreLocked(app, { archive: file, catalog, downloaded, ...job });
      return downloaded ? { ...outcome, downloaded: downloadedSummary(downloaded) } : outcome;
    },
  );
}

function selectionOf(options: RestoreOptions): RestoreSelection {
  const chosen = [options.db !== undefined, options.tenant !== undefined, options.media === true].filter(
    Boolean,
  );
  if (chosen.length !== 1) {
    throw new UsageError('restore: name exactly one of --db main, --tenant <id> or --media');
  }
  if (options.db !== undefined) return { kind: 'db', name: options.db };
  if (options.tenant !== undefined) return { kind: 'tenant', tenant: options.tenant };
  return { kind: 'media' };
}

async function restoreLocked(
  app: App,
  run: {
    archive: string;
    catalog: Pick<BackupsRepo, 'get'>;
    downloaded: DownloadedArchive | undefined;
    selection: RestoreSelection;
    options: RestoreOptions;
    preBackup: boolean;
    signal: AbortSignal;
  },
): Promise<RestoreOutcome> {
  const { config, logger, store } = app;
  await finishInterruptedRestoreFirst(app, logger);
  const progress = restoreProgress(logger);
  try {
    return await runRestore({
      archive: run.archive,
      ...(run.downloaded ? { archiveLabel: run.downloaded.url } : {}),
      selection: run.selection,
      sources: config.backup.sources,
      target: run.options.target,
      force: run.options.force === true,
      // A download is read whole once more: every entry checked, and its SHA-256 against the
      // catalog when the catalog has the copy.
      verifyAll: run.options.verifyAll === true || run.downloaded !== undefined,
      signal: run.signal,
      restores: store.restores,
      catalog: run.catalog,
      onProgress: (event) => progress.report(event),
      preRestoreBackup: run.preBackup ? preRestoreBackupStep(app, progress) : undefined,
      lock: backupLockStep(app),
    });
  } finally {
    progress.done();
  }
}

function downloadedSummary(downloaded: DownloadedArchive) {
  return {
    url: downloaded.url,
    generation: downloaded.object.generation,
    size: downloaded.object.size,
    crc32c: downloaded.object.crc32c,
    cataloged: downloaded.record?.file ?? null,
  };
}

export type Outcome = RestoreOutcome & { downloaded?: ReturnType<typeof downloadedSummary> };

export function describeRestore(outcome: Outcome): string {
  const what =
    outcome.kind === 'media' ? 'media' : outcome.kind === 'db' ? 'main database' : `tenant ${outcome.name}`;
  const lines = [
    `restored ${what} from ${outcome.archive}`,
    `  into: ${outcome.target}`,
    `  verified: ${describeVerification(outcome)}`,
  ];
  if (outcome.downloaded) {
    const { generation, size, cataloged } = outcome.downloaded;
    lines.push(
      `  downloaded: generation ${generation}, ${size} bytes, CRC32C checked${cataloged ? `; SHA-256 matched the catalog's ${cataloged}` : ''}; the temporary copy was removed`,
    );
  }
  if (outcome.kind === 'media') lines.push(`  files: ${outcome.files} (${outcome.bytes} bytes)`);
  if (outcome.safetyCopy) lines.push(`  safety copy of the replaced database: ${outcome.safetyCopy}`);
  else if (outcome.kind !== 'media') lines.push('  no database was there before: no safety copy needed');
  if (outcome.preRestoreBackup) lines.push(`  pre-restore backup: ${outcome.preRestoreBackup}`);
  for (const sidecar of outcome.removedSidecars) lines.push(`  removed stale ${sidecar}`);
  return lines.join('\n');
}

function describeVerification({ verification, kind }: RestoreOutcome): string {
  const { method, entries } = verification;
  const what =
    kind === 'media'
      ? `${entries.length} media entries (size, CRC-32, SHA-256)`
      : `entry ${entries[0]} (size, CRC-32, SHA-256, integrity_check)`;
  switch (method) {
    case 'catalog-manifest':
      return `${what} against the manifest the catalog vouches for; other entries were not read`;
    case 'catalog-sha256':
      return `${what} against the manifest; the archive's SHA-256 matched the catalog`;
    case 'full':
      return `${what}, and every other entry of the archive (not in the catalog, or --verify-all)`;
  }
}

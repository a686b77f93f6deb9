import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { importArchive, verifyCataloged } from '../../backup/catalog.js';
import { type InventoryItem, listInventory } from '../../backup/inventory.js';
import { formatBytes } from '../../util/format-bytes.js';
import { UsageError } from '../../core/errors.js';
import { type BucketArchive, importFromBucket, listBucketArchives } from '../../app/bucket-archives.js';
import { bucketOpener, isGsUrl } from '../../app/remote-archives.js';
import { describeBacklog, type OffsiteBacklog, offsiteBacklog, offsiteView } from '../../offsite/backlog.js';
import { withInterrupt } from '../interrupt.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printFailedResult, printResult } from '../output.js';
import { withApp } from '../with-app.js';

/**
 * The `backups` command group, created on first use. Other files add subcommands through it
 * (`backupsCommand(program).command('prune')`), in any order of COMMANDS. This is the hook for
 * `backups prune`.
 */
export function backupsCommand(program: Command): Command {
  return (
    program.commands.find((command) => command.name() === 'backups') ??
    program.command('backups').description('list, verify and import backup archives')
  );
}

export function registerBackups(program: Command): void {
  const backups = backupsCommand(program);

  withJsonOption(withConfigOption(backups.command('list')))
    .description(
      'cataloged backups (newest first) with their off-site copies, then archives in the folder the catalog lacks and partial files',
    )
    .option(
      '--offsite',
      'list the archives in the off-site bucket instead, and whether the catalog has each confirmed',
    )
    .action(async (options: GlobalOptions & { offsite?: boolean }) => {
      if (options.offsite) return listOffsite(options);
      // Reads only: creates no state folder where there is none.
      const { config, items, backlog } = await withApp(options, 'read', async ({ config, store, clock }) => ({
        config,
        items: await listInventory(config.backup.dir, config.backup.prefix, store.backups),
        backlog: config.backup.offsite ? offsiteBacklog(store.backups, clock()) : undefined,
      }));
      const configured = config.backup.offsite !== undefined;
      printResult(
        {
          dir: config.backup.dir,
          backups: items.map((item) => listRow(item, configured)),
          // Only with off-site copies configured.
          ...(backlog ? { backlog } : {}),
        },
        options.json === true,
        describeList,
      );
    });

  withJsonOption(withConfigOption(backups.command('verify')))
    .description(
      're-check archives (CRC-32, SHA-256, integrity_check); the catalog records the result; exit 1 if any fails',
    )
    .argument('[file]', 'archive path, or its file name in backup.dir')
    .option('--all', 'every cataloged archive and every archive in the folder')
    .action(async (file: string | undefined, options: GlobalOptions & { all?: boolean }) => {
      if ((file === undefined) === (options.all !== true))
        throw new UsageError('backups verify: give either an archive or --all');
      const results = await withApp(options, 'write', async ({ config, store }) => {
        const catalog = store.backups;
        const files =
          file !== undefined
            ? [resolveArchive(file, config.backup.dir)]
            : (await listInventory(config.backup.dir, config.backup.prefix, catalog))
                .filter((item) => item.status !== 'partial')
                .map((item) => item.file);
        const out = [];
        for (const each of files) out.push(await verifyCataloged(each, catalog));
        return out;
      });
      const human = (data: { results: typeof results }) =>
        data.results.length === 0
          ? 'no archives to verify'
          : data.results
              .map((result) =>
                result.ok ? `ok      ${result.file}` : `FAILED  ${result.file}\n        ${result.error}`,
              )
              .join('\n');
      const failed = results.filter((result) => !result.ok);
      if (failed.length === 0) printResult({ results }, options.json === true, human);
      else
        printFailedResult(
          { results },
          {
            code: 'RW_VERIFY_FAILED',
            message: `${failed.length} of ${results.length} archives failed verification: ${failed.map((result) => path.basename(result.file)).join(', ')}`,
          },
          options.json === true,
          human,
        );
    });

  withJsonOption(withConfigOption(backups.command('import')))
    .description(
      'verify an archive the catalog lacks and catalog it: a file in backup.dir, or gs://bucket/path.zip (downloaded into backup.dir, its copy recorded as confirmed)',
    )
    .argument('<file>', 'archive path, its file name in backup.dir, or gs://bucket/path.zip')
    .option('--identity <file>', 'age identity file that decrypts an encrypted copy (gs://.../name.zip.age)')
    .action(async (file: string, options: GlobalOptions & { identity?: string }) => {
      const record = await withApp(options, 'write', async (app) => {
        const { config } = app;
        if (isGsUrl(file)) {
          return withInterrupt(app.logger, 'import', 'stopping the import; nothing is recorded', (signal) =>
            importFromBucket(
              file,
              {
                backup: config.backup,
                catalog: app.store.backups,
                openBucket: bucketOpener(config.backup.offsite),
                now: () => new Date(app.clock()),
                ...(options.identity === undefined ? {} : { identityFile: options.identity }),
              },
              signal,
            ),
          );
        }
        const archive = resolveArchive(file, config.backup.dir);
        const [realDir, realFile] = await Promise.all([realpath(config.backup.dir), realpath(archive)]);
        if (path.dirname(realFile) !== realDir)
          throw new UsageError(
            `backups import: ${archive} is not in the backup folder ${config.backup.dir}; copy it there first`,
          );
        return importArchive(path.join(config.backup.dir, path.basename(realFile)), app.store.backups);
      });
      printResult(record, options.json === true, (row) =>
        row.offsite?.confirmedAt
          ? `imported ${row.file} (${formatBytes(row.size)}, verified) from ${row.offsite.objectName} (generation ${row.offsite.generation}, confirmed off-site)`
          : `imported ${row.file} (${formatBytes(row.size)}, verified)`,
      );
    });
}

/** `backups list --offsite`: the bucket's archives, newest first. */
async function listOffsite(options: GlobalOptions): Promise<void> {
  const { bucket, archives } = await withApp(options, 'read', async (app) => {
    const offsite = await app.offsite();
    if (!offsite)
      throw new UsageError('backups list --offsite: off-site copies are not configured (backup.offsite)');
    return withInterrupt(app.logger, 'list', 'stopping the listing', async (signal) => ({
      bucket: `gs://${offsite.config.bucket}/${offsite.config.prefix}`,
      archives: await listBucketArchives(
        offsite.config,
        await offsite.objectStore(),
        app.store.backups,
        signal,
      ),
    }));
  });
  printResult({ bucket, archives }, options.json === true, describeOffsite);
}

function describeOffsite(data: { bucket: string; archives: BucketArchive[] }): string {
  if (data.archives.length === 0) return `no archives in ${data.bucket}`;
  const lines = data.archives.map((archive) =>
    [
      archive.updated.padEnd(24),
      formatBytes(archive.size).padStart(10),
      String(archive.generation).padEnd(16),
      (archive.confirmedFor ? 'confirmed' : 'not cataloged').padEnd(13),
      archive.url,
    ].join('  '),
  );
  const hint = data.archives.some((archive) => !archive.confirmedFor)
    ? [
        '',
        'restore one with `runwarden restore gs://...`, or catalog it with `runwarden backups import gs://...`',
      ]
    : [];
  return [`archives in ${data.bucket}:`, ...lines, ...hint].join('\n');
}

/** An existing path as given, else a file name (with or without .zip) inside the backup folder. */
function resolveArchive(given: string, dir: string): string {
  const candidates = [path.resolve(given), path.join(dir, given), path.join(dir, `${given}.zip`)];
  return candidates.find((candidate) => existsSync(candidate)) ?? path.resolve(given);
}

function listRow(item: InventoryItem, offsiteConfigured: boolean) {
  const offsite = item.record ? offsiteView(item.record, offsiteConfigured) : null;
  return {
    file: item.file,
    status: item.status,
    size: item.size ?? null,
    sha256: item.record?.sha256 ?? null,
    reason: item.record?.reason ?? null,
    trigger: item.record?.trigger ?? null,
    started_at: item.record?.startedAt ?? null,
    verified_at: item.record?.verifiedAt ?? null,
    error: item.record?.verifyError ?? null,
    offsite,
  };
}

/** The off-site column: confirmed, pending (attempts, last error), or off. */
function offsiteCell(offsite: ReturnType<typeof listRow>['offsite']): string {
  if (!offsite || offsite.state === 'off') return 'off';
  if (offsite.state === 'confirmed') return 'confirmed';
  if (offsite.attempts === 0) return 'pending';
  const plural = offsite.attempts === 1 ? 'attempt' : 'attempts';
  return `pending (${offsite.attempts} ${plural}, last error: ${offsite.error ?? 'none'})`;
}

function describeList(data: {
  dir: string;
  backups: Array<ReturnType<typeof listRow>>;
  backlog?: OffsiteBacklog;
}): string {
  const backlog = data.backlog ? [`off-site backlog: ${describeBacklog(data.backlog, formatBytes)}`] : [];
  if (data.backups.length === 0) return [`no backups in ${data.dir}`, ...backlog].join('\n');
  const lines = data.backups.map((row) =>
    [
      row.status.padEnd(11),
      (row.started_at ?? '').padEnd(24),
      formatBytes(row.size ?? 0).padStart(10),
      (row.reason ?? '').padEnd(10),
      path.basename(row.file),
      ...(data.backlog ? [`off-site: ${offsiteCell(row.offsite)}`] : []),
    ].join('  '),
  );
  const hint = data.backups.some((row) => row.status === 'uncataloged')
    ? ['', 'uncataloged archives can be cataloged with `runwarden backups import <file>`']
    : [];
  return [`backups in ${data.dir}:`, ...lines, ...backlog, ...hint].join('\n');
}

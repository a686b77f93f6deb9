import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { importArchive, verifyCataloged } from '../../backup/catalog.js';
import { type InventoryItem, listInventory } from '../../backup/inventory.js';
import { formatBytes } from '../../util/format-bytes.js';
import { UsageError } from '../../core/errors.js';
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
      'cataloged backups (newest first), then archives in the folder the catalog lacks and partial files',
    )
    .action(async (options: GlobalOptions) => {
      // Reads only: creates no state folder where there is none.
      const { config, items } = await withApp(options, 'read', async ({ config, store }) => ({
        config,
        items: await listInventory(config.backup.dir, config.backup.prefix, store.backups),
      }));
      printResult(
        { dir: config.backup.dir, backups: items.map(listRow) },
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
    .description('verify an archive in backup.dir that the catalog lacks, and catalog it')
    .argument('<file>', 'archive path, or its file name in backup.dir')
    .action(async (file: string, options: GlobalOptions) => {
      const record = await withApp(options, 'write', async (app) => {
        const { config } = app;
        const archive = resolveArchive(file, config.backup.dir);
        const [realDir, realFile] = await Promise.all([realpath(config.backup.dir), realpath(archive)]);
        if (path.dirname(realFile) !== realDir)
          throw new UsageError(
            `backups import: ${archive} is not in the backup folder ${config.backup.dir}; copy it there first`,
          );
        return importArchive(path.join(config.backup.dir, path.basename(realFile)), app.store.backups);
      });
      printResult(
        record,
        options.json === true,
        (row) => `imported ${row.file} (${formatBytes(row.size)}, verified)`,
      );
    });
}

/** An existing path as given, else a file name (with or without .zip) inside the backup folder. */
function resolveArchive(given: string, dir: string): string {
  const candidates = [path.resolve(given), path.join(dir, given), path.join(dir, `${given}.zip`)];
  return candidates.find((candidate) => existsSync(candidate)) ?? path.resolve(given);
}

function listRow(item: InventoryItem) {
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
  };
}

function describeList(data: { dir: string; backups: Array<ReturnType<typeof listRow>> }): string {
  if (data.backups.length === 0) return `no backups in ${data.dir}`;
  const lines = data.backups.map((row) =>
    [
      row.status.padEnd(11),
      (row.started_at ?? '').padEnd(24),
      formatBytes(row.size ?? 0).padStart(10),
      (row.reason ?? '').padEnd(10),
      path.basename(row.file),
    ].join('  '),
  );
  const hint = data.backups.some((row) => row.status === 'uncataloged')
    ? ['', 'uncataloged archives can be cataloged with `runwarden backups import <file>`']
    : [];
  return [`backups in ${data.dir}:`, ...lines, ...hint].join('\n');
}

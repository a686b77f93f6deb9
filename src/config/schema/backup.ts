import path from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { describeValue, duration, option } from '../types.js';
import { offsiteSchema } from './offsite.js';
import { retentionSchema } from './retention.js';

// Backups: sources, schedule, archive naming, retention, off-site copies.

const required = option(z.boolean().default(true), {
  description:
    'When true, a missing source fails the backup with a message naming it (never a silently partial archive); when false it is skipped with a warning.',
});

const globList = (description: string, defaults: string[]) =>
  option(z.array(z.string().min(1)).default(defaults), { description });

const timezone = z.string().refine(isTimeZone, {
  error: (issue) =>
    `expected an IANA time zone like "UTC" or "America/Sao_Paulo", got ${describeValue(issue.input)}`,
});

const cronExpression = z.string().refine((text) => cron.validate(text), {
  error: (issue) => `expected a cron expression like "0 3 * * *", got ${describeValue(issue.input)}`,
});

export const backupSourcesSchema = z
  .strictObject({
    data_dir: option(z.string().min(1).default('.'), {
      description:
        "The application's data folder; relative paths of the sources below start here. Itself relative to the config file's folder.",
    }),
    main_db: z
      .strictObject({
        path: option(z.string().min(1).default('db.sqlite3'), {
          description: 'The main SQLite database, archived as db/<file name>.',
        }),
        required,
      })
      .prefault({}),
    tenants: z
      .strictObject({
        pattern: option(
          z
            .string()
            .min(1)
            .refine((text) => text.split('{tenant}').length === 2, {
              error: 'expected a path with exactly one {tenant} placeholder, like "tenants/{tenant}.sqlite3"',
            })
            .refine(
              (text) => text.split('/').filter((segment) => segment.includes('{tenant}')).length === 1,
              {
                error: 'the {tenant} placeholder must sit inside one path segment',
              },
            )
            .default('tenants/{tenant}.sqlite3'),
          {
            description:
              'Where tenant databases are: a path with a {tenant} placeholder naming the tenant id (letters, digits, . _ -). Each is archived as tenants/<id>.sqlite3.',
          },
        ),
        required: option(z.boolean().default(true), {
          description:
            'When true, a missing tenants folder or no tenant database at all fails the backup; when false it is skipped with a warning.',
        }),
      })
      .prefault({}),
    media: z
      .strictObject({
        dir: option(z.string().min(1).default('media'), {
          description: 'The media folder, archived under media/. Symbolic links inside it are skipped.',
        }),
        include: globList(
          'Globs (relative to the media folder; *, **, ?, {a,b}, [abc]) of files to archive.',
          ['**'],
        ),
        exclude: globList('Globs of files to leave out, applied after include.', []),
        required,
      })
      .prefault({}),
  })
  .prefault({});

export const backupSchema = z
  .strictObject({
    enabled: option(z.boolean().default(true), {
      description: 'Run scheduled backups in the daemon. The CLI `runwarden backup` works either way.',
    }),
    dir: option(z.string().min(1).default('./backups'), {
      description: "Where archives are written (relative to the config file's folder).",
    }),
    prefix: option(
      z
        .string()
        .regex(/^[A-Za-z0-9._-]+$/, { error: 'expected letters, digits, ".", "_" or "-"' })
        .default('backup_completo'),
      { description: 'Archive names are <prefix>_YYYYMMDD_HHMMSS.zip.' },
    ),
    timezone: option(timezone.default('UTC'), {
      description: 'IANA time zone of archive names, manifest times, the schedule and retention periods.',
    }),
    schedule: option(cronExpression.default('0 3 * * *'), {
      description:
        'When the daemon takes a backup (cron, in `timezone`; an optional first field is seconds).',
    }),
    drill: z
      .strictObject({
        enabled: option(z.boolean().default(true), {
          description:
            'Run restore drills in the daemon (only while `backup.enabled`): the newest verified archive is restored into a temporary folder beside the main database, checked (integrity_check, row counts and schema against the manifest, hashes) and removed. `runwarden backups drill` runs one either way.',
        }),
        schedule: option(cronExpression.default('30 4 * * 0'), {
          description:
            'When the daemon runs a restore drill (cron, in `backup.timezone`; default Sundays 04:30).',
        }),
      })
      .prefault({}),
    before_start: option(z.enum(['auto', 'always', 'never']).default('auto'), {
      description:
        'When the daemon (backup role) reports itself started on `/startupz` (a Cloud Run startup probe; the app container depends on it): auto: at once, unless it runs in a Cloud Run revision (K_REVISION) the newest archive (in the bucket with `offsite`, else the local catalog) was not taken by, and then after a verified backup (and its off-site copy); always: after such a backup at every start; never: at once.',
    }),
    lock_wait: option(duration.prefault('10m'), {
      description:
        'How long a backup waits for another one (daemon or CLI) to finish before failing; 0s: fail at once.',
    }),
    // 4, not zlib's usual 6: measured on the bench's data set (SQLite pages and text media alike),
    // level 4 deflates in about half the time of 6 for output 0.7 % larger (text: 1-3 %), while 3
    // and below grow SQLite pages by 3-10 % (README, Architecture notes; bench/RESULTS.md row 1).
    compression_level: option(z.number().int().min(1).max(9).default(4), {
      description:
        'Deflate level for databases and text (1: fastest, 9: smallest); the default 4 takes about half the time of 6 for an archive under 1 % larger.',
    }),
    snapshot: z
      .strictObject({
        timeout: option(duration.prefault('30m'), {
          description: 'Longest a single database snapshot may take before the backup fails.',
        }),
        max_restarts: option(z.number().int().nonnegative().default(10), {
          description:
            'How many times a database copy may restart because the source changed underneath it before the backup fails.',
        }),
        step_pages: option(z.number().int().positive().default(4096), {
          description: 'Pages copied per step; between steps other work (and the app) runs.',
        }),
      })
      .prefault({}),
    sources: backupSourcesSchema,
    retention: retentionSchema,
    offsite: option(offsiteSchema.optional(), {
      description:
        'Copies of every verified archive in a Cloud Storage bucket, so a backup survives losing the machine. Off when absent.',
    }),
  })
  .prefault({});

export type BackupConfig = z.output<typeof backupSchema>;
export type BackupSourcesConfig = z.output<typeof backupSourcesSchema>;
export type { OffsiteConfig } from './offsite.js';
export type { RetentionConfig } from './retention.js';
export { retentionSchema };

/**
 * Makes the backup paths absolute: `dir` and `sources.data_dir` against `baseDir` (the config file's
 * folder, or the working folder without a file), the sources against `data_dir`. Idempotent.
 */
export function resolveBackupPaths(backup: BackupConfig, baseDir: string): void {
  backup.dir = path.resolve(baseDir, backup.dir);
  const sources = backup.sources;
  sources.data_dir = path.resolve(baseDir, sources.data_dir);
  sources.main_db.path = path.resolve(sources.data_dir, sources.main_db.path);
  sources.tenants.pattern = path.resolve(sources.data_dir, sources.tenants.pattern);
  sources.media.dir = path.resolve(sources.data_dir, sources.media.dir);
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

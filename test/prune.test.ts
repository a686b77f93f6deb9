import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { pruneBackups } from '../src/backup/prune.js';
import type { RetentionConfig } from '../src/config/schema/backup.js';
import { EventBus } from '../src/events/event-bus.js';
import type { BackupsRepo } from '../src/store/backups-repo.js';
import { Store } from '../src/store/store.js';
import { backupMetrics, observeBackups } from '../src/telemetry/metrics-backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-prune-');

const OFF: RetentionConfig = {
  keep_within: 0,
  keep_last: 0,
  keep_hourly: 0,
  keep_daily: 0,
  keep_weekly: 0,
  keep_monthly: 0,
  keep_yearly: 0,
};

/** A backup folder with one cataloged archive per day from Nov 18 to Nov 27, 03:00 UTC. */
function catalog() {
  const root = tempDir();
  const dir = path.join(root, 'backups');
  const store = Store.open(path.join(root, 'state'));
  const backups = store.backups;
  const files: string[] = [];
  for (let day = 18; day <= 27; day++) {
    const file = path.join(dir, `backup_completo_202611${day}_030000.zip`);
    files.push(file);
    add(backups, file, `2026-11-${day}T03:00:00Z`);
  }
  return { root, dir, store, backups, files: files.reverse() };
}

function add(backups: BackupsRepo, file: string, at: string, content = `archive ${at}`) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  backups.record({
    file,
    size: Buffer.byteLength(content),
    sha256: '0'.repeat(64),
    reason: 'scheduled',
    trigger: 'schedule',
    startedAt: new Date(at),
    finishedAt: new Date(at),
    entries: 3,
    verifiedAt: new Date(at),
  });
}

const run = (backups: BackupsRepo, retention: RetentionConfig, dryRun: boolean, extra = {}) =>
  pruneBackups({
    backups,
    retention,
    timezone: 'UTC',
    dryRun,
    signal: new AbortController().signal,
    ...extra,
  });

describe('pruneBackups', () => {
  it('a dry run reports keep/delete with the rule, and deletes nothing', async () => {
    const { dir, store, backups, files } = catalog();
    const before = readdirSync(dir).sort();
    const events = new EventBus();
    const metrics = backupMetrics(new Registry());
    observeBackups(events, metrics);
    const outcome = await run(backups, { ...OFF, keep_daily: 3 }, true, { events });
    expect(outcome.dryRun).toBe(true);
    // A dry run deletes nothing, so it moves neither prune metric.
    expect((await metrics.retained.get()).values[0]?.value ?? 0).toBe(0);
    expect((await metrics.pruned.get()).values[0]?.value ?? 0).toBe(0);
    expect(outcome.decisions.map((d) => [path.basename(d.file), d.keep, d.reasons])).toEqual([
      ['backup_completo_20261127_030000.zip', true, ['daily 2026-11-27', 'newest verified']],
      ['backup_completo_20261126_030000.zip', true, ['daily 2026-11-26']],
      ['backup_completo_20261125_030000.zip', true, ['daily 2026-11-25']],
      ...files.slice(3).map((file) => [path.basename(file), false, []]),
    ]);
    expect(outcome.deleted).toEqual([]);
    expect(outcome.decisions.every((d) => !d.deleted)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(backups.list()).toHaveLength(10);
    store.close();
  });

  it('a real run deletes the dropped archives and rows, and nothing it was not planned to', async () => {
    const { dir, store, backups, files } = catalog();
    // Things prune must never touch: a partial archive, an archive the catalog lacks, other files.
    writeFileSync(path.join(dir, 'backup_completo_20261128_030000.zip.partial'), 'half');
    writeFileSync(path.join(dir, 'backup_completo_20261101_030000.zip'), 'not cataloged');
    writeFileSync(path.join(dir, '.runwarden-backup.lock'), '{}');
    const events = new EventBus();
    const pruned = events.next('backups:pruned');
    // The metrics follow the event, as the daemon's recorder subscribes them.
    const metrics = backupMetrics(new Registry());
    observeBackups(events, metrics);

    const outcome = await run(backups, { ...OFF, keep_last: 4 }, false, { events });

    expect(outcome.deleted).toEqual(files.slice(4));
    expect(readdirSync(dir).sort()).toEqual(
      [
        ...files.slice(0, 4).map((file) => path.basename(file)),
        'backup_completo_20261128_030000.zip.partial',
        'backup_completo_20261101_030000.zip',
        '.runwarden-backup.lock',
      ].sort(),
    );
    expect(backups.list().map((row) => row.file)).toEqual(files.slice(0, 4));
    expect(outcome.retained).toBe(4);
    expect((await metrics.retained.get()).values[0]?.value).toBe(4);
    expect((await metrics.pruned.get()).values[0]?.value).toBe(6);
    await expect(pruned).resolves.toEqual({ retained: 4, deleted: files.slice(4), dryRun: false });
    store.close();
  });

  it('an empty policy deletes nothing', async () => {
    const { dir, store, backups } = catalog();
    const outcome = await run(backups, OFF, false);
    expect(outcome.emptyPolicy).toBe(true);
    expect(outcome.deleted).toEqual([]);
    expect(readdirSync(dir)).toHaveLength(10);
    expect(outcome.decisions[3]?.reasons).toEqual(['policy is empty']);
    store.close();
  });

  it('failed re-verifications neither count as keepers nor get deleted', async () => {
    const { store, backups, files } = catalog();
    // The three newest archives failed their re-verification.
    for (const file of files.slice(0, 3)) backups.markFailed(file, 'entry db/db.sqlite3: SHA-256 mismatch');
    const outcome = await run(backups, { ...OFF, keep_last: 2 }, false);
    expect(outcome.decisions.slice(0, 5).map((d) => [d.status, d.keep, d.reasons[0]])).toEqual([
      ['failed', true, 'failed: retention only deletes verified backups'],
      ['failed', true, 'failed: retention only deletes verified backups'],
      ['failed', true, 'failed: retention only deletes verified backups'],
      ['verified', true, 'last 2'],
      ['verified', true, 'last 2'],
    ]);
    expect(outcome.deleted).toEqual(files.slice(5));
    for (const file of files.slice(0, 5)) expect(existsSync(file)).toBe(true);
    store.close();
  });

  it('an archive that vanished or changed size keeps nothing alive and is not deleted', async () => {
    const { store, backups, files } = catalog();
    rmSync(files[0] as string); // the newest archive was deleted by hand
    writeFileSync(files[1] as string, 'truncated'); // the next one changed size
    const outcome = await run(backups, { ...OFF, keep_within: 2 * 86_400_000 }, false);
    expect(
      outcome.decisions.slice(0, 5).map((d) => [path.basename(d.file).slice(16, 24), d.status, d.keep]),
    ).toEqual([
      ['20261127', 'missing', true],
      ['20261126', 'missing', true],
      ['20261125', 'verified', true], // now the newest verified: keep_within counts back from it
      ['20261124', 'verified', true],
      ['20261123', 'verified', false],
    ]);
    expect(outcome.decisions[0]?.reasons).toEqual([
      'missing: the archive is gone or changed size; not counted',
    ]);
    expect(existsSync(files[1] as string)).toBe(true);
    expect(backups.list()).toHaveLength(4);
    store.close();
  });
});

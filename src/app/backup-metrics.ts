import type { BackupRecord } from '../store/backups-repo.js';
import type { BackupMetrics } from '../telemetry/metrics-backup.js';

/**
 * Sets the backup gauges from the catalog at the daemon's start: when the newest verified backup
 * this host took finished, its size, and how many archives are kept. Without it every restart shows
 * a last success of 0, which RunwardenBackupStale ignores (it cannot tell "never" from "unknown"),
 * so a daemon restarted daily would hide a backup that stopped working. Imported archives do not
 * count: they say when another machine backed up, not that this one still does.
 */
export function seedBackupMetrics(catalog: { list(): BackupRecord[] }, metrics: BackupMetrics): void {
  const records = catalog.list();
  metrics.retained.set(records.length);
  const taken = records.filter((record) => !record.imported && record.verifyError === null);
  const newest = taken.reduce<BackupRecord | undefined>(
    (best, record) => (best && Date.parse(best.finishedAt) >= Date.parse(record.finishedAt) ? best : record),
    undefined,
  );
  if (!newest) return;
  metrics.lastSuccess.set(Date.parse(newest.finishedAt) / 1000);
  metrics.lastSize.set(newest.size);
}

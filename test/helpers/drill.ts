import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Manifest } from '../../src/archive/manifest.js';
import { readManifestDigest } from '../../src/archive/manifest-read.js';
import { databaseFacts } from '../../src/archive/sqlite-facts.js';
import type { BackupConfig } from '../../src/config/schema/backup.js';
import type { Store } from '../../src/store/store.js';
import { type FixtureEntry, writeFixtureArchive } from './restore-archive.js';

/** The entries of a real archive's data, to write them again under another manifest. */
export function entriesOf(data: string, manifest: Manifest): FixtureEntry[] {
  return manifest.entries.map((entry) => {
    const file =
      entry.kind === 'db'
        ? path.join(data, 'db.sqlite3')
        : entry.kind === 'tenant'
          ? path.join(data, 'tenants', `${entry.tenant}.sqlite3`)
          : path.join(data, entry.path);
    return {
      path: entry.path,
      kind: entry.kind,
      ...(entry.tenant ? { tenant: entry.tenant } : {}),
      data: readFileSync(file),
    };
  });
}

/**
 * Writes `entries` as a new archive in the backup folder with the manifest `tamper` makes, and
 * catalogs it as verified (as the backup run does: size, SHA-256 and the manifest's digest), so it
 * is the newest verified archive and only the drill's own checks can catch what was tampered.
 */
export async function catalogedFixture(
  config: Pick<BackupConfig, 'dir'>,
  store: Store,
  entries: FixtureEntry[],
  tamper: (manifest: Manifest) => void,
): Promise<string> {
  const file = path.join(config.dir, 'backup_completo_29990101_000000.zip');
  const manifest = await writeFixtureArchive(file, entries, tamper);
  const read = await readManifestDigest(file);
  const bytes = readFileSync(file);
  store.backups.record({
    file,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    manifestSha256: read.sha256,
    reason: 'manual',
    trigger: 'cli',
    startedAt: new Date('2999-01-01T00:00:00Z'),
    finishedAt: new Date('2999-01-01T00:00:01Z'),
    entries: manifest.entries.length,
    verifiedAt: new Date(),
  });
  return file;
}

/** Row counts and schema of each database entry, as a backup now records them. */
export function recordFacts(dir: string, entries: FixtureEntry[], manifest: Manifest): void {
  for (const database of manifest.databases) {
    const entry = entries.find((each) => each.path === database.entry) as FixtureEntry;
    const file = path.join(dir, `facts-${path.basename(entry.path)}`);
    writeFileSync(file, entry.data);
    Object.assign(database, databaseFacts(file));
  }
}

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { type BackupConfig, backupSchema, resolveBackupPaths } from '../../src/config/schema/backup.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** A logger that drops everything. */
export const silentLogger = createLogger({
  format: 'json',
  level: 'debug',
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});

/** Creates a WAL-mode SQLite file with a table `t` holding `rows` rows. */
export function makeDatabase(file: string, rows = 3): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run(`row ${i}`);
  db.close();
}

/**
 * The guide's data layout under `<dir>/data`: db.sqlite3, tenants/<id>.sqlite3 and a media folder
 * holding `media` files (path -> contents).
 */
export function makeDataDir(
  dir: string,
  options: { tenants?: string[]; media?: Record<string, string | Buffer> } = {},
): string {
  const data = path.join(dir, 'data');
  makeDatabase(path.join(data, 'db.sqlite3'));
  for (const tenant of options.tenants ?? ['acme', 'globex'])
    makeDatabase(path.join(data, 'tenants', `${tenant}.sqlite3`));
  const media = options.media ?? { 'docs/readme.txt': 'hello '.repeat(500) };
  mkdirSync(path.join(data, 'media'), { recursive: true });
  for (const [name, contents] of Object.entries(media)) {
    mkdirSync(path.dirname(path.join(data, 'media', name)), { recursive: true });
    writeFileSync(path.join(data, 'media', name), contents);
  }
  return data;
}

/** A parsed backup config for `dir` (data in `<dir>/data`, archives in `<dir>/backups`). */
export function backupConfigFor(dir: string, overrides: Record<string, unknown> = {}): BackupConfig {
  const config = backupSchema.parse({ sources: { data_dir: './data' }, lock_wait: '5s', ...overrides });
  resolveBackupPaths(config, dir);
  return config;
}

/** Writes `<dir>/runwarden.yaml` with a state dir, JSON logs and `backup` merged over the defaults. */
export function writeBackupConfigFile(
  dir: string,
  backup: Record<string, unknown> = {},
  logLevel = 'info',
): string {
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    file,
    stringify({
      state_dir: './state',
      log: { format: 'json', level: logLevel },
      backup: { lock_wait: '30s', ...backup, sources: { data_dir: './data', ...(backup.sources as object) } },
    }),
  );
  return file;
}

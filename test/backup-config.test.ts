import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressReporter } from '../src/backup/progress.js';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/core/errors.js';
import { silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-backup-config-');

function load(yaml: string) {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'etc'));
  const file = path.join(dir, 'etc', 'runwarden.yaml');
  writeFileSync(file, yaml);
  return { dir, load: () => loadConfig({ path: file, env: {} }) };
}

describe('backup config', () => {
  it("defaults to the guide's layout, with paths relative to the config file's folder", () => {
    const { dir, load: read } = load('backup:\n  sources:\n    data_dir: ../app\n');
    const { backup } = read().config;
    const etc = path.join(dir, 'etc');
    expect(backup.dir).toBe(path.join(etc, 'backups'));
    expect(backup.prefix).toBe('backup_completo');
    expect(backup.sources.main_db.path).toBe(path.join(dir, 'app', 'db.sqlite3'));
    expect(backup.sources.tenants.pattern).toBe(path.join(dir, 'app', 'tenants', '{tenant}.sqlite3'));
    expect(backup.sources.media.dir).toBe(path.join(dir, 'app', 'media'));
    expect(backup.sources.main_db.required).toBe(true);
    expect(backup.retention.keep_within).toBe(7 * 24 * 3600 * 1000);
    expect(backup.timezone).toBe('UTC');
    // Measured: half the deflate time of level 6 for an archive under 1 % larger (see the schema).
    expect(backup.compression_level).toBe(4);
  });

  it('reports every bad backup option with its path', () => {
    const { load: read } = load(
      [
        'backup:',
        '  schedule: "every night"',
        '  timezone: Mars/Olympus',
        '  prefix: "bad prefix"',
        '  sources:',
        '    tenants: { pattern: "tenants/*.sqlite3" }',
        '  retention: { keep_daily: 1.5, keep_within: forever }',
      ].join('\n'),
    );
    const error = (() => {
      try {
        read();
      } catch (caught) {
        return caught;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    const problems = error.problems.join('\n');
    expect(problems).toContain(
      'backup.schedule: expected a cron expression like "0 3 * * *", got "every night"',
    );
    expect(problems).toContain('backup.timezone: expected an IANA time zone');
    expect(problems).toContain('backup.prefix:');
    expect(problems).toContain(
      'backup.sources.tenants.pattern: expected a path with exactly one {tenant} placeholder',
    );
    expect(problems).toContain('backup.retention.keep_daily:');
    expect(problems).toContain('backup.retention.keep_within: expected a duration like "7d", got "forever"');
  });
});

describe('progressReporter', () => {
  it('draws a bar in place on a terminal', () => {
    let out = '';
    const stream = Object.assign(
      new Writable({
        write: (chunk, _encoding, done) => {
          out += String(chunk);
          done();
        },
      }),
      { isTTY: true },
    ) as unknown as NodeJS.WriteStream;
    const progress = progressReporter({ stream, logger: silentLogger });
    progress.update('archive', 512 * 1024, 1024 * 1024);
    progress.update('verify', 1024 * 1024, 1024 * 1024);
    progress.finish();
    expect(out).toContain('\rarchive  [###############...............]  50% 512.0 KiB / 1.0 MiB');
    expect(out).toContain('\rverify   [##############################] 100%');
    expect(out.endsWith('\n')).toBe(true);
  });
});

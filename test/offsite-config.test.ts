import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/core/errors.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-offsite-config-');

function configFile(yaml: string): string {
  const dir = path.join(tempDir(), 'etc');
  mkdirSync(dir);
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(file, yaml);
  return file;
}

function load(yaml: string, env: Record<string, string> = {}) {
  return loadConfig({ path: configFile(yaml), env }).config;
}

function problemsOf(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    load(yaml, env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('backup.offsite config', () => {
  it('is off when the block is absent', () => {
    expect(load('backup: {}\n').backup.offsite).toBeUndefined();
  });

  it('needs only a bucket; the rest has defaults, and the prefix is never derived from the host', () => {
    const { offsite } = load('backup:\n  offsite:\n    bucket: my-app-backups\n').backup;
    expect(offsite).toEqual({
      bucket: 'my-app-backups',
      prefix: 'runwarden/',
      upload_timeout: 3_600_000,
      concurrency: 1,
      read_back: 'metadata',
    });
  });

  it('takes every option, its own retention with the local rules, and an emulator endpoint', () => {
    const { offsite } = load(
      [
        'backup:',
        '  offsite:',
        '    bucket: shared.backups-1',
        '    prefix: apps/shop/',
        '    storage_class: NEARLINE',
        '    retention: { keep_daily: 30, keep_within: 2d }',
        '    upload_timeout: 20m',
        '    concurrency: 3',
        '    read_back: full',
        '    api_endpoint: http://127.0.0.1:4443',
      ].join('\n'),
    ).backup;
    expect(offsite).toMatchObject({
      prefix: 'apps/shop/',
      storage_class: 'NEARLINE',
      retention: { keep_daily: 30, keep_within: 2 * 86_400_000, keep_last: 0 },
      upload_timeout: 20 * 60_000,
      concurrency: 3,
      read_back: 'full',
      api_endpoint: 'http://127.0.0.1:4443',
    });
  });

  it('a block without a bucket is refused, naming the path', () => {
    expect(problemsOf('backup:\n  offsite:\n    prefix: apps/\n')).toEqual([
      'backup.offsite.bucket: required (expected string)',
    ]);
  });

  it('reports every bad option at once, each with its path, and what was wrong with the prefix', () => {
    const problems = problemsOf(
      [
        'backup:',
        '  offsite:',
        '    bucket: My_Bucket!',
        '    prefix: /runwarden/',
        '    storage_class: GLACIER',
        '    retention: { keep_daily: 1.5, keep_forever: 1 }',
        '    upload_timeout: soon',
        '    concurrency: 0',
        '    read_back: never',
        '    api_endpoint: storage.example.com',
        '    colour: blue',
      ].join('\n'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^backup\.offsite\.bucket: expected a Cloud Storage bucket name .*"My_Bucket!"$/,
        ),
        'backup.offsite.prefix: expected a prefix without a leading "/" (like "runwarden/"), got "/runwarden/"',
        expect.stringMatching(
          /^backup\.offsite\.storage_class: expected one of "STANDARD", .*got "GLACIER"$/,
        ),
        expect.stringMatching(/^backup\.offsite\.retention\.keep_daily: /),
        expect.stringMatching(/^backup\.offsite\.retention\.keep_forever: unknown key/),
        'backup.offsite.upload_timeout: expected a duration like "7d", got "soon"',
        expect.stringMatching(/^backup\.offsite\.concurrency: expected a value at least 1, got 0$/),
        expect.stringMatching(
          /^backup\.offsite\.read_back: expected one of "metadata", "full", got "never"$/,
        ),
        'backup.offsite.api_endpoint: expected http(s)://host[:port], got "storage.example.com"',
        expect.stringMatching(/^backup\.offsite\.colour: unknown key/),
      ]),
    );
    expect(problems).toHaveLength(10);
  });

  it.each([
    ['runwarden', 'ending with "/"'],
    ['a//b/', 'without empty, "." or ".." parts'],
    ['a/../b/', 'without empty, "." or ".." parts'],
    ['/', 'without a leading "/"'],
    ['', 'ending with "/"'],
    ['backups[1]/', 'without control characters or any of # [ ] * ?'],
  ])('prefix %j is refused: %s', (prefix, why) => {
    const problems = problemsOf(
      `backup:\n  offsite:\n    bucket: b-1\n    prefix: ${JSON.stringify(prefix)}\n`,
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(`^backup\\.offsite\\.prefix: expected a prefix .*${escapeRegExp(why)}`),
    );
    expect(problems[0]).toContain(JSON.stringify(prefix));
  });

  it('an environment variable can turn it on, and a bad one is named as the source', () => {
    expect(load('', { RUNWARDEN_BACKUP_OFFSITE_BUCKET: 'from-env' }).backup.offsite?.bucket).toBe('from-env');
    expect(
      problemsOf('backup:\n  offsite:\n    bucket: b-1\n', { RUNWARDEN_BACKUP_OFFSITE_PREFIX: 'x' }),
    ).toEqual([
      expect.stringMatching(/^backup\.offsite\.prefix: .*\(from RUNWARDEN_BACKUP_OFFSITE_PREFIX\)$/),
    ]);
  });

  it('the example file shows the block commented out, so copying it does not turn off-site copies on', () => {
    const example = loadConfig({
      path: new URL('../config/runwarden.example.yaml', import.meta.url).pathname,
      env: {},
    }).config;
    expect(example.backup.offsite).toBeUndefined();
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import { describe, expect, it } from 'vitest';
import { type ArchiveSchemaFingerprint, compareSchema } from '../src/core/schema-change.js';

// The watch role's schema comparison: both ends read from archive manifests in the bucket.

const V1 = { sha256: 'a'.repeat(64), userVersion: 1 };
const V2 = { sha256: 'b'.repeat(64), userVersion: 2 };

function archived(name: string, main = V1, tenants: ArchiveSchemaFingerprint['tenants'] = {}) {
  return { archive: { url: `gs://b/${name}`, takenAt: Date.UTC(2026, 11, 4, 3) }, main, tenants };
}

describe('comparing schemas recorded in archive manifests', () => {
  it('names the databases whose definitions or user_version changed, as of the newer archive', () => {
    const change = compareSchema(
      archived('one.zip', V1, { acme: V1, globex: V1 }),
      archived('two.zip', V2, { acme: V1, globex: { ...V1, sha256: 'c'.repeat(64) } }),
    );
    expect(change).toMatchObject({ changed: true, tenants: ['globex'] });
    expect(change.detail).toContain('as of gs://b/two.zip (taken 2026-12-04T03:00:00.000Z)');
    expect(change.detail).toContain(
      'main database: definitions changed (sqlite_master differs), user_version 1 -> 2',
    );
    expect(change.detail).toContain('tenant globex: definitions changed');
  });

  it('says unchanged when every database matches, counting the tenants', () => {
    const change = compareSchema(
      archived('one.zip', V1, { acme: V1 }),
      archived('two.zip', V1, { acme: V1 }),
    );
    expect(change).toEqual({
      changed: false,
      tenants: [],
      detail:
        'schema unchanged as of gs://b/two.zip (taken 2026-12-04T03:00:00.000Z), 1 tenant database(s) too; rolling back code alone is enough',
    });
  });

  it('cannot tell from the same archive at both ends: unknown, never unchanged', () => {
    const change = compareSchema(archived('one.zip'), archived('one.zip'));
    expect(change.changed).toBeNull();
    expect(change.detail).toBe(
      'schema now unknown: no archive in the bucket since the restore point (gs://b/one.zip), and this runwarden reads no database',
    );
  });

  it('cannot tell when an archive records no schema, naming it', () => {
    const old = { ...archived('old.zip'), main: null };
    expect(compareSchema(old, archived('two.zip'))).toMatchObject({
      changed: null,
      detail: 'schema not compared: gs://b/old.zip records no schema (written by an older runwarden)',
    });
  });

  it('does not compare a fingerprint read from the files with one read from an archive', () => {
    const files = { schemaVersion: 3, migrations: null, tenants: {} };
    expect(compareSchema(files, archived('two.zip'))).toMatchObject({
      changed: null,
      detail: "schema not compared: the restore point's was read from the files, now's from an archive",
    });
  });
});

import { describe, expect, it } from 'vitest';
import { checksFor, compareWithManifest, type DatabaseFacts } from '../src/core/drill-compare.js';

const schema = { sha256: 'a'.repeat(64), user_version: 7 };
const observed: DatabaseFacts = { tables: { orders: 120, customers: 1, audit: 5 }, schema };

describe('compareWithManifest', () => {
  it('finds nothing when counts and schema agree', () => {
    expect(compareWithManifest('tenant acme', { tables: { ...observed.tables }, schema }, observed)).toEqual(
      [],
    );
  });

  it('names the database and each table that differs, missing or unrecorded, in table order', () => {
    const recorded = { tables: { orders: 121, customers: 1, invoices: 1 }, schema };
    expect(compareWithManifest('tenant acme', recorded, observed)).toEqual([
      'tenant acme: table audit (5 rows) is not in the manifest',
      'tenant acme: table invoices is missing, the manifest says 1 row',
      'tenant acme: table orders has 120 rows, the manifest says 121',
    ]);
  });

  it('reports a different schema digest and user_version', () => {
    const recorded = { tables: observed.tables, schema: { sha256: 'b'.repeat(64), user_version: 6 } };
    expect(compareWithManifest('main database', recorded, observed)).toEqual([
      "main database: the schema differs from the manifest's (SHA-256 aaaaaaaaaaaa, the manifest says bbbbbbbbbbbb)",
      'main database: user_version is 7, the manifest says 6',
    ]);
  });

  it('compares nothing an older manifest did not record, and says the checks were partial', () => {
    expect(compareWithManifest('main database', {}, observed)).toEqual([]);
    expect(checksFor({})).toBe('integrity-and-hashes');
    expect(checksFor({ tables: {} })).toBe('integrity-and-hashes');
    expect(checksFor({ tables: {}, schema })).toBe('full');
  });
});

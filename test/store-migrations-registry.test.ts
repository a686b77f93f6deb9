import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import type { Migration } from '../src/store/migrations/migration.js';

const FOLDER = new URL('../src/store/migrations/', import.meta.url);
const FILE = /^(\d{3})-([a-z0-9-]+)\.ts$/;

/** Every `NNN-name.ts` in the migrations folder with the migration it exports. */
async function migrationFiles(): Promise<
  Array<{ file: string; number: number; slug: string; exported: Migration[] }>
> {
  const files = readdirSync(FOLDER).filter((name) => /^\d/.test(name));
  return Promise.all(
    files.sort().map(async (file) => {
      const match = FILE.exec(file);
      if (!match) throw new Error(`${file}: a migration file is named NNN-name.ts`);
      const module = (await import(new URL(file, FOLDER).href)) as Record<string, unknown>;
      const exported = Object.values(module).filter(
        (value): value is Migration => typeof value === 'object' && value !== null && 'version' in value,
      );
      return { file, number: Number(match[1]), slug: match[2] as string, exported };
    }),
  );
}

describe('the migrations registry', () => {
  it('lists every migration file, in the files’ order, each once', async () => {
    const files = await migrationFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const { file, exported } of files) expect(exported, `${file} exports one migration`).toHaveLength(1);
    expect(MIGRATIONS).toEqual(files.map((entry) => entry.exported[0]));
    // The very objects, not look-alikes: the registry imports each file's export.
    MIGRATIONS.forEach((migration, index) => {
      expect(migration).toBe(files[index]?.exported[0]);
    });
  });

  it('numbers versions consecutively from 1, each equal to its file number and named after its file', async () => {
    const files = await migrationFiles();
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(files.map((_, index) => index + 1));
    for (const { file, number, slug, exported } of files) {
      expect(exported[0]?.version, `${file}'s version`).toBe(number);
      expect(exported[0]?.name, `${file}'s name`).toBe(slug);
    }
  });
});

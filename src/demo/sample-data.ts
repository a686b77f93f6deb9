import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface SampleData {
  dataDir: string;
  mainDb: string;
  tenants: string[];
  mediaFiles: number;
}

const TENANTS = ['acme', 'globex', 'initech'];

/** 1x1 images with real headers, so the archive stores them as already-compressed media. */
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2a3c5b80000000049454e44ae426082',
  'hex',
);
const JPEG_HEADER = Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex');

/**
 * Writes an app's data folder as the guide describes it: `db.sqlite3` (with Django's
 * `django_migrations`, so rollback events can say whether the schema moved), one database per
 * tenant under `tenants/`, and a `media/` folder. Databases are in WAL mode, like a live app's.
 */
export function writeSampleData(dataDir: string): SampleData {
  mkdirSync(path.join(dataDir, 'tenants'), { recursive: true });
  mkdirSync(path.join(dataDir, 'media', 'products'), { recursive: true });
  const mainDb = path.join(dataDir, 'db.sqlite3');
  const main = new Database(mainDb);
  main.pragma('journal_mode = WAL');
  main.exec(`
    CREATE TABLE IF NOT EXISTS django_migrations (id INTEGER PRIMARY KEY, app TEXT NOT NULL, name TEXT NOT NULL, applied TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, total_cents INTEGER NOT NULL, created TEXT NOT NULL);
  `);
  const migration = main.prepare('INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, ?)');
  const order = main.prepare('INSERT INTO orders (tenant, total_cents, created) VALUES (?, ?, ?)');
  main.transaction(() => {
    for (const name of ['0001_initial', '0002_orders', '0003_order_totals'])
      migration.run('shop', name, '2026-11-01T00:00:00Z');
    for (let i = 0; i < 500; i++)
      order.run(TENANTS[i % TENANTS.length], 100 + ((i * 7919) % 10_000), '2026-11-27T12:00:00Z');
  })();
  main.close();

  const tenants = TENANTS.map((tenant, index) => {
    const file = path.join(dataDir, 'tenants', `${tenant}.sqlite3`);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec(
      'CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)',
    );
    const insert = db.prepare('INSERT INTO customers (name, email) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 50 * (index + 1); i++)
        insert.run(`${tenant} customer ${i}`, `c${i}@${tenant}.example`);
    })();
    db.close();
    return file;
  });

  let mediaFiles = 0;
  for (let i = 0; i < 6; i++) {
    writeFileSync(path.join(dataDir, 'media', 'products', `product-${i}.png`), PNG);
    writeFileSync(
      path.join(dataDir, 'media', 'products', `photo-${i}.jpg`),
      Buffer.concat([JPEG_HEADER, Buffer.alloc(2048, i)]),
    );
    mediaFiles += 2;
  }
  writeFileSync(path.join(dataDir, 'media', 'terms.txt'), 'Terms of service\n'.repeat(200));
  mediaFiles += 1;
  return { dataDir, mainDb, tenants, mediaFiles };
}

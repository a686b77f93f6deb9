import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runBackup } from '../src/backup/run-backup.js';
import { openArchiveEntry } from '../src/archive/verify.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { PROCESS_START } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

const tempDir = useTempDir('runwarden-backup-writer-');

/**
 * Another process that commits transactions back to back (one every ~1 ms): each inserts the next
 * `seq` into `log` and bumps `counter.n`, so every committed state has n == count(log) == max(seq).
 * It measures how long each commit took (a blocked writer waits inside its busy timeout) and
 * prints its numbers when told to stop.
 */
const WRITER = `
const Database = require(process.env.BETTER_SQLITE3);
const db = new Database(process.argv[2], { timeout: 10000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const insert = db.prepare('INSERT INTO log (seq) VALUES (?)');
const bump = db.prepare('UPDATE counter SET n = n + 1 WHERE id = 1');
let seq = db.prepare('SELECT n FROM counter WHERE id = 1').get().n;
const commit = db.transaction(() => { seq++; insert.run(seq); bump.run(); });
let commits = 0, maxMs = 0, stopping = false;
const started = performance.now();
process.on('SIGTERM', () => { stopping = true; });
function tick() {
  if (stopping) {
    process.stdout.write(JSON.stringify({ commits, maxMs, elapsedMs: performance.now() - started }) + '\\n');
    db.close();
    return;
  }
  const t = performance.now();
  commit();
  maxMs = Math.max(maxMs, performance.now() - t);
  if (++commits === 20) process.stdout.write('ready\\n');
  setTimeout(tick, 1);
}
tick();
`;

describe('backup while another process writes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('finishes, never blocks the writer for 1 s, and archives a committed state that passes integrity_check', async () => {
    const dir = tempDir();
    const data = makeDataDir(dir);
    const source = path.join(data, 'db.sqlite3');
    const setup = new Database(source);
    setup.exec(`
      CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
      INSERT INTO counter VALUES (1, 0);
      CREATE TABLE log (seq INTEGER PRIMARY KEY);
      CREATE TABLE filler (b BLOB);
    `);
    // ~40 MB, so the copy takes many steps while the writer commits between them.
    const fill = setup.prepare('INSERT INTO filler VALUES (randomblob(8000))');
    setup.transaction(() => {
      for (let i = 0; i < 5000; i++) fill.run();
    })();
    setup.close();

    const script = path.join(dir, 'writer.cjs');
    writeFileSync(script, WRITER);
    const writer = spawn(process.execPath, [script, source], {
      env: { ...process.env, BETTER_SQLITE3: createRequire(import.meta.url).resolve('better-sqlite3') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(writer);
    let output = '';
    writer.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    await waitFor(
      () => {
        if (writer.exitCode !== null) throw new Error('the writer exited before it was ready');
        return output.includes('ready') ? true : undefined;
      },
      'the writer to be ready',
      PROCESS_START,
    );

    const config = backupConfigFor(dir, { snapshot: { step_pages: 64 } });
    const store = Store.open(path.join(dir, 'state'));
    const counterNow = () => {
      const db = new Database(source, { readonly: true });
      try {
        return (db.prepare('SELECT n FROM counter').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const before = counterNow();
    const result = await runBackup(
      { reason: 'manual', trigger: 'cli' },
      { config, catalog: store.backups, events: new EventBus(), logger: silentLogger },
    ).finally(() => store.close());
    const after = counterNow();
    writer.kill('SIGTERM');
    await exited;
    const stats = JSON.parse(output.split('\n').find((line) => line.startsWith('{')) as string) as {
      commits: number;
      maxMs: number;
      elapsedMs: number;
    };

    // The writer kept its pace (>= 200 tx/s) and was never held up for a second.
    expect(stats.commits / (stats.elapsedMs / 1000)).toBeGreaterThanOrEqual(200);
    expect(stats.maxMs).toBeLessThan(1000);
    expect(after).toBeGreaterThan(before);
    expect(result.manifest.databases[0]).toMatchObject({
      entry: 'db/db.sqlite3',
      journal_mode: 'wal',
      restarts: 0,
    });

    const restored = path.join(dir, 'snapshot.sqlite3');
    await pipeline(openArchiveEntry(result.file, 'db/db.sqlite3'), createWriteStream(restored));
    const snapshot = new Database(restored, { readonly: true });
    try {
      expect(snapshot.pragma('integrity_check', { simple: true })).toBe('ok');
      const state = snapshot
        .prepare(
          'SELECT (SELECT n FROM counter) AS n, count(*) AS rows, min(seq) AS first, max(seq) AS last FROM log',
        )
        .get() as { n: number; rows: number; first: number; last: number };
      // A committed state: the counter and the log agree, and the log is a gap-free prefix.
      expect(state.rows).toBe(state.n);
      expect(state.first).toBe(1);
      expect(state.last).toBe(state.n);
      expect(state.n).toBeGreaterThanOrEqual(before);
      expect(state.n).toBeLessThanOrEqual(after);
      expect((snapshot.prepare('SELECT count(*) AS c FROM filler').get() as { c: number }).c).toBe(5000);
    } finally {
      snapshot.close();
    }
  });
});

import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import { configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { startPlayground } from '../src/playground/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { makeDatabase } from './helpers/backup.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

// One schema reader serves every service's tick: when it fails, the log says so once, and once
// more when it works again, not once per service per tick.

const tempDir = useTempDir('runwarden-schema-failing-');
const cleanups = useCleanups();
const SERVICES = ['shop', 'cart', 'blog'];

describe('a schema that cannot be read', () => {
  it('is logged once when it starts failing and once when it works again, whatever the services and ticks', async () => {
    const playground = await startPlayground({
      project: 'schema-log',
      services: SERVICES.map((name) => ({ name })),
    });
    cleanups.push(() => playground.stop());
    const dir = tempDir();
    const data = path.join(dir, 'data');
    // A folder where the main database should be: it exists, and SQLite cannot open it.
    const main = path.join(data, 'db.sqlite3');
    mkdirSync(main, { recursive: true });
    const lines: Array<{ message: string; err?: string }> = [];
    const logger = createLogger({
      format: 'json',
      level: 'info',
      destination: new Writable({
        write: (chunk, _encoding, done) => {
          for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      }),
    });
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    const config = configSchema.parse({
      state_dir: path.join(dir, 'state'),
      server: { address: '127.0.0.1:0' },
      backup: { enabled: false, dir: path.join(dir, 'backups'), sources: { data_dir: data } },
      cloud_run: { endpoint, insecure: true },
      monitoring: { endpoint, insecure: true },
      services: SERVICES.map((service) => ({
        name: service,
        project: 'schema-log',
        region: playground.region,
        service,
        poll_interval: '200ms',
        pre_deploy_backup: false,
        rules: [],
      })),
    });
    resolveBackupPaths(config.backup, dir);
    const daemon = await startDaemon(config, logger);
    cleanups.push(async () => {
      await daemon.stop('test end');
    });
    const failing = (line: { message: string }) =>
      line.message.startsWith('could not read the database schema');
    await waitFor(
      async () => ((await daemon.context.app.watch()).live.schemaFailing ? true : undefined),
      'the schema read to fail',
      WORK_BACKSTOP,
    );
    // Ten more polls of the region (each one a tick of all three services) while it still fails.
    const listed = () => playground.apiCalls().ListServices ?? 0;
    const from = listed();
    await waitFor(() => (listed() >= from + 10 ? true : undefined), 'ten more polls', WORK_BACKSTOP);
    expect(lines.filter(failing)).toHaveLength(1);
    expect(lines.find(failing)?.err).toContain('db.sqlite3');

    // The database becomes readable: said once.
    rmSync(main, { recursive: true });
    makeDatabase(main);
    await waitFor(
      () =>
        lines.some((line) => line.message === 'reading the database schema works again') ? true : undefined,
      'the recovery to be logged',
      WORK_BACKSTOP,
    );
    const rt = await daemon.context.app.watch();
    expect(rt.live.schemaFailing).toBe(false);
    expect(lines.filter(failing)).toHaveLength(1);
    expect(lines.filter((line) => line.message === 'reading the database schema works again')).toHaveLength(
      1,
    );
  });
});

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoConfig } from '../src/demo/demo-config.js';
import { exitWithin, runCli, spawnCli } from './helpers/cli.js';
import {
  PROCESS_START,
  parsed,
  releaseDeadline,
  stopDeadline,
  WORK_BACKSTOP,
  watchDeadline,
} from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { plus } from './helpers/wait.js';

const tempDir = useTempDir('runwarden-demo-');

/**
 * The whole story, derived from the config the demo writes: its daemon starts, a backup is taken,
 * two deploys are watched to their end (a promotion, then a rollback), and the daemon stops.
 */
function demoDeadline() {
  const config = parsed(
    demoConfig({
      endpoint: '127.0.0.1:1',
      project: 'demo',
      region: 'europe-west1',
      service: 'shop',
      storageUrl: 'http://127.0.0.1:1',
    }),
  );
  const watch = watchDeadline(config);
  return plus(PROCESS_START, WORK_BACKSTOP, watch, watch, releaseDeadline(config), stopDeadline(config));
}

describe('runwarden demo --once', () => {
  it('tells the whole story, every step, and leaves a config that status and history read', async () => {
    const dir = path.join(tempDir(), 'demo');
    // METADATA_SERVER_DETECTION unset, as on a newcomer's machine (the demo sets it for itself).
    const demo = spawnCli(['demo', '--once', '--dir', dir], { env: { METADATA_SERVER_DETECTION: '' } });
    const exit = await exitWithin(demo, demoDeadline(), 'the demo to finish');
    const out = demo.output.stdout;
    expect(exit, `stdout:\n${out}\nstderr:\n${demo.output.stderr}`).toEqual({ code: 0, signal: null });

    // A person reads it: no JSON log lines on stdout (they go to daemon.log).
    expect(out.split('\n').filter((line) => line.trim().startsWith('{'))).toEqual([]);
    expect(readFileSync(path.join(dir, 'daemon.log'), 'utf8')).toContain(
      '"message":"runwarden daemon ready"',
    );

    // Each step, in order, with what it showed.
    const expected = [
      '1. A backup, verified and copied off-site',
      'backup verified: ',
      'copied off-site: gs://runwarden-demo-backups/runwarden/backup_completo_',
      '2. A good deploy, watched and promoted',
      'the daemon watches shop: ',
      'promoted shop-00002-',
      '3. A bad deploy (HTTP 5xx), detected and rolled back',
      'a user got the first HTTP 500',
      'rule tripped: http_5xx',
      'rolled back to shop-00002-',
      'time from the first error served to traffic restored: ',
      '4. The restore point named for that rollback',
      'restore point: ',
      '5. Blue-green: a tagged revision tested at its own URL, then promoted in steps',
      'with no traffic and the tag green',
      'tested at ',
      'step 1 of 2: 50 % of traffic',
      'step 2 of 2: 100 % of traffic',
      'promoted shop-00004-',
      '6. Where to look next',
      'Prometheus metrics: http://127.0.0.1:',
      ' status --config ',
      ' history --config ',
      'demo complete: all 6 steps happened',
    ];
    let from = 0;
    for (const text of expected) {
      const at = out.indexOf(text, from);
      expect(at, `"${text}" after position ${from} in:\n${out}`).toBeGreaterThanOrEqual(0);
      from = at + text.length;
    }
    // The restore point it names is a real archive in the demo's backup folder.
    const named = /restore point: (\S+)/.exec(out)?.[1] ?? '';
    expect(named).toMatch(/backup_completo_\d{8}_\d{6}\.zip$/);
    expect(existsSync(path.isAbsolute(named) ? named : path.resolve(named))).toBe(true);

    const config = path.join(dir, 'runwarden.yaml');
    const status = runCli(['status', '--config', config]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain('shop');
    // The bad deploy's rollback stays the last one, after the blue-green promotion that followed it.
    expect(status.stdout).toMatch(/rollback: +to shop-00002-/);
    expect(status.stdout).toMatch(/stable: +shop-00004-/);
    const history = runCli(['history', '--config', config]);
    expect(history.status, history.stderr).toBe(0);
    expect(history.stdout).toContain('watch:promoted');
    expect(history.stdout).toContain('rollback:completed');
    const backups = runCli(['backups', 'list', '--json', '--config', config]);
    expect(backups.status, backups.stderr).toBe(0);
    // The archive the story showed copied is cataloged with that confirmed copy.
    const copied = /copied off-site: (\S+) \(generation (\d+)\)/.exec(out);
    const listed = JSON.parse(backups.stdout) as {
      backups: Array<{ offsite?: { object?: string; state?: string } | null }>;
    };
    expect(listed.backups.map((row) => row.offsite?.object)).toContain(copied?.[1]);
  });

  it('refuses a folder it did not make, and leaves it untouched', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'notes'));
    writeFileSync(path.join(dir, 'notes', 'keep.txt'), 'mine');
    const demo = runCli(['demo', '--once', '--dir', dir]);
    expect(demo.status).toBe(2);
    expect(demo.stderr).toContain(`--dir ${dir}: `);
    expect(demo.stderr).toContain('was not made by the demo');
    expect(readFileSync(path.join(dir, 'notes', 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('wipes and recreates a folder it made itself', () => {
    const dir = path.join(tempDir(), 'demo');
    mkdirSync(dir);
    writeFileSync(path.join(dir, '.runwarden-demo'), '');
    writeFileSync(path.join(dir, 'old-file'), 'from a previous run');
    // A bad config value stops the demo early (after the wipe): enough to see the wipe happen.
    const demo = runCli(['demo', '--once', '--dir', dir], {
      env: { RUNWARDEN_SHUTDOWN_GRACE_PERIOD: 'soon' },
    });
    expect(demo.status).toBe(2);
    expect(demo.stderr).toContain('shutdown.grace_period');
    expect(existsSync(path.join(dir, 'old-file'))).toBe(false);
    expect(existsSync(path.join(dir, 'app', 'db.sqlite3'))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { Store } from '../src/store/store.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-watch-store-');

/** Two connections to one store file, as the daemon and a CLI command have. */
function twoProcesses() {
  const dir = tempDir();
  const a = Store.open(dir);
  const b = Store.open(dir);
  return {
    daemon: a,
    cli: b,
    close: () => {
      a.close();
      b.close();
    },
  };
}

const newWatch = {
  service: 'shop',
  candidate: 'r2',
  stable: 'r1',
  startedAt: 1_000,
  deadline: 61_000,
  dryRun: false,
};

describe('watch store shared by the daemon and the CLI', () => {
  it('the action lease lets one owner act at a time, and expires if its holder died', () => {
    const { daemon, cli, close } = twoProcesses();
    expect(daemon.services.acquireAction('shop', 'daemon:1', 10_000, 1_000)).toBeNull();
    expect(cli.services.acquireAction('shop', 'cli:2', 10_000, 2_000)).toBe('daemon:1');
    expect(daemon.services.acquireAction('shop', 'daemon:1', 12_000, 2_000)).toBeNull();
    daemon.services.releaseAction('shop', 'cli:2');
    expect(cli.services.acquireAction('shop', 'cli:2', 20_000, 3_000)).toBe('daemon:1');
    expect(cli.services.acquireAction('shop', 'cli:2', 30_000, 12_001)).toBeNull();
    cli.services.releaseAction('shop', 'cli:2');
    expect(daemon.services.get('shop')).toMatchObject({ actionOwner: null, actionUntil: null });
    close();
  });

  it('at most one open watch per service, and ending one is compare-and-set', () => {
    const { daemon, cli, close } = twoProcesses();
    const watch = daemon.watches.create(newWatch);
    expect(() => cli.watches.create({ ...newWatch, candidate: 'r3' })).toThrow(/UNIQUE constraint failed/);
    expect(cli.watches.end(watch.id, 'promoted', 'a person promoted it', 5_000)).toBe(true);
    expect(daemon.watches.end(watch.id, 'rolled_back', 'rule tripped', 5_001)).toBe(false);
    expect(daemon.watches.get(watch.id)).toMatchObject({
      status: 'promoted',
      endReason: 'a person promoted it',
    });
    expect(daemon.watches.create({ ...newWatch, candidate: 'r3' }).candidate).toBe('r3');
    close();
  });

  it('memory() is one consistent view: stable, bad revisions, frozen, snapshot and the open watch', () => {
    const { daemon, cli, close } = twoProcesses();
    daemon.services.setStable('shop', 'r1', 'baseline', 1_000);
    daemon.services.saveSnapshot('shop', { latestReady: 'r2', serving: { r2: 100 } }, 1_000);
    cli.revisions.mark('shop', 'r0', 'bad', 'rolled back from', 900);
    cli.services.setFrozen('shop', true, 'maintenance', 1_100);
    const watch = daemon.watches.create(newWatch);
    expect(daemon.memory('shop')).toMatchObject({
      stable: 'r1',
      bad: new Set(['r0']),
      frozen: true,
      snapshot: { latestReady: 'r2', serving: { r2: 100 } },
      watch: { id: watch.id, candidate: 'r2' },
    });
    expect(daemon.memory('other')).toMatchObject({
      stable: null,
      frozen: false,
      snapshot: null,
      watch: null,
    });
    close();
  });

  it('a watch claims the newest recent predeploy once; older or failed ones are not restore points', () => {
    const { daemon, close } = twoProcesses();
    const base = { service: 'shop', stable: 'r1', backupId: null, fingerprint: null };
    daemon.predeploys.add({ ...base, at: 100, backupFile: '/b/old.zip', error: null });
    daemon.predeploys.add({ ...base, at: 900, backupFile: null, error: 'disk full' });
    const good = daemon.predeploys.add({ ...base, at: 800, backupFile: '/b/new.zip', error: null });
    expect(daemon.predeploys.claim('shop', 500, 1)?.id).toBe(good.id);
    expect(daemon.predeploys.claim('shop', 500, 2)).toBeUndefined();
    close();
  });
});

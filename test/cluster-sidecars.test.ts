import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { makeDataDir } from './helpers/backup.js';
import { daemonReady, type SpawnedCli, spawnCli } from './helpers/cli.js';
import { SLOWDOWN, WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { type Deadline, plus, waitFor } from './helpers/wait.js';

// Three backup sidecars (built daemons, `--role backup`, each its own process so one can be killed
// with SIGKILL) on ONE data folder, with `cluster` set: the backup lease in the emulated bucket
// decides which one takes the scheduled backups, and each copies its archives to the archive bucket,
// the catalog of record. What they did is read from their JSON logs and from the bucket.
//
// Each sidecar has its own state_dir and its own backup.dir, as deploy/runwarden-sidecar.yaml has
// (an in-memory volume per instance): the backup lock file records its host and is never taken over
// from another host, so a shared backup.dir on NFS would keep a lock left by a killed instance.
// Mutual exclusion here is the lease's alone.

const ARCHIVES = 'sidecar-archives';
const LEASES = 'sidecar-leases';
const TTL_MS = 1_500;
const MARGIN_MS = 300;
/** backup.schedule: every 2 s (node-cron's seconds field). */
const PERIOD_MS = 2_000;
const SCHEDULE = '*/2 * * * * *';

/** The next scheduled backup of the holder: one period, then the backup itself on the test's small data. */
const NEXT_BACKUP: Deadline = plus(
  { ms: 2 * PERIOD_MS * SLOWDOWN, basis: 'two backup.schedule periods' },
  WORK_BACKSTOP,
);
/**
 * After the holder is killed: a standby takes the lease a TTL after its last sight of it (read every
 * tenth of the TTL), then the schedule fires within a period or two.
 */
const TAKEOVER_BACKUP: Deadline = {
  ms: (TTL_MS + TTL_MS / 10 + 2 * PERIOD_MS) * SLOWDOWN,
  basis: 'lease TTL + a standby read + two backup.schedule periods',
};

const tempDir = useTempDir('runwarden-cluster-sidecars-');
const cleanups = useCleanups();

interface Sidecar {
  name: string;
  run: SpawnedCli;
  base: string;
}

interface Interval {
  sidecar: string;
  file: string;
  start: number;
  end: number | undefined;
}

function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Each archive a sidecar wrote, from its log: `backup started` (the partial file) to
 * `backup completed` (the file); `end` undefined for one still running or cut short.
 */
function intervalsOf(sidecar: Sidecar): Interval[] {
  const intervals: Interval[] = [];
  for (const entry of logLines(sidecar.run.output.stdout)) {
    const at = Date.parse(String(entry.time));
    if (entry.message === 'backup started') {
      const file = String(entry.file).replace(/\.partial$/, '');
      intervals.push({ sidecar: sidecar.name, file, start: at, end: undefined });
    } else if (entry.message === 'backup completed') {
      const open = intervals.find((each) => each.file === entry.file && each.end === undefined);
      if (open) open.end = at;
    }
  }
  return intervals;
}

async function backupLeader(sidecar: Sidecar): Promise<boolean | undefined> {
  try {
    const response = await fetch(`${sidecar.base}/readyz?leader=backup`);
    const body = (await response.json()) as { leases?: { backup?: { leader: boolean } } };
    return body.leases?.backup?.leader;
  } catch {
    return undefined;
  }
}

describe('three backup sidecars on one data folder, with the backup lease in Cloud Storage', () => {
  it('take scheduled backups one at a time, and go on after the lease holder is killed', async () => {
    const playground: Playground = await startPlayground({
      services: [{ name: 'shop' }],
      buckets: [ARCHIVES, LEASES],
    });
    cleanups.push(() => playground.stop());
    const shared = tempDir();
    makeDataDir(shared);

    const start = async (name: string): Promise<Sidecar> => {
      const own = tempDir();
      const configFile = path.join(own, 'runwarden.json');
      writeFileSync(
        configFile,
        JSON.stringify({
          state_dir: path.join(own, 'state'),
          server: { address: '127.0.0.1:0' },
          log: { level: 'info', format: 'json' },
          backup: {
            dir: path.join(own, 'backups'),
            schedule: SCHEDULE,
            sources: { data_dir: path.join(shared, 'data') },
            drill: { enabled: false },
            offsite: { bucket: ARCHIVES, api_endpoint: playground.storage.url, upload_timeout: '60s' },
          },
          cluster: {
            bucket: LEASES,
            api_endpoint: playground.storage.url,
            lease_ttl: `${TTL_MS}ms`,
            lease_margin: `${MARGIN_MS}ms`,
          },
        }),
      );
      const run = spawnCli(['daemon', '--role', 'backup', '--config', configFile]);
      cleanups.push(async () => {
        if (run.child.exitCode === null && run.child.signalCode === null) {
          run.child.kill('SIGTERM');
          await run.exited;
        }
      });
      const address = await daemonReady(run);
      return { name, run, base: `http://${address}` };
    };
    const sidecars = await Promise.all(['a', 'b', 'c'].map(start));
    const all = () => sidecars.flatMap(intervalsOf);
    const completed = () => all().filter((each) => each.end !== undefined);
    const holder = () =>
      waitFor(
        async () => {
          const alive = sidecars.filter((each) => each.run.child.signalCode === null);
          const leads = await Promise.all(alive.map(backupLeader));
          const holders = alive.filter((_, index) => leads[index] === true);
          return holders.length === 1 && leads.every((lead) => lead !== undefined) ? holders[0] : undefined;
        },
        'one backup lease holder among the sidecars',
        TAKEOVER_BACKUP,
      );

    // Scheduled backups happen, all by the holder.
    const first = await holder();
    await waitFor(
      () => (completed().length >= 3 ? true : undefined),
      'three scheduled backups',
      plus(NEXT_BACKUP, { ms: 2 * PERIOD_MS * SLOWDOWN, basis: 'two more periods' }),
    );
    // Standbys skip their turn, saying so.
    for (const standby of sidecars.filter((each) => each !== first))
      await waitFor(
        () =>
          standby.run.output.stdout.includes('not the leader: scheduled run left to the leader')
            ? true
            : undefined,
        `${standby.name} to skip a scheduled run`,
        NEXT_BACKUP,
      );

    // kill -9 of the holder: another sidecar takes the lease and the scheduled backups go on.
    first.run.child.kill('SIGKILL');
    await first.run.exited;
    const killedAt = Date.now();
    const next = await waitFor(
      () => all().find((each) => each.sidecar !== first.name && each.start > killedAt),
      'a scheduled backup by another sidecar after the kill',
      TAKEOVER_BACKUP,
    );
    console.log(`backup lease failover: next backup started ${next.start - killedAt} ms after the kill`);
    await waitFor(
      () => (completed().filter((each) => each.start > killedAt).length >= 2 ? true : undefined),
      'two scheduled backups after the kill',
      plus(NEXT_BACKUP, { ms: 2 * PERIOD_MS * SLOWDOWN, basis: 'two more periods' }),
    );
    const successor = await holder();
    expect(successor).not.toBe(first);
    expect(successor.name).toBe(next.sidecar);

    // Never two at once: no two archive intervals overlap (one cut short by the kill ends at it).
    const intervals = all()
      .map((each) => ({ ...each, end: each.end ?? (each.sidecar === first.name ? killedAt : Date.now()) }))
      .sort((x, y) => x.start - y.start);
    for (let index = 1; index < intervals.length; index++) {
      const before = intervals[index - 1] as Interval & { end: number };
      const after = intervals[index] as Interval & { end: number };
      expect(
        after.start,
        `${after.sidecar}'s ${after.file} began before ${before.sidecar}'s ${before.file} ended`,
      ).toBeGreaterThanOrEqual(before.end);
    }
    // The bucket, the catalog of record, holds every archive the living sidecars completed (the
    // killed one's last archive may have died with it before its copy: its disk is its instance's).
    const inBucket = () => playground.storage.objects(ARCHIVES).map((object) => path.basename(object.name));
    const missing = () =>
      completed()
        .filter((each) => each.sidecar !== first.name)
        .map((each) => path.basename(each.file))
        .filter((file) => !inBucket().some((name) => name.startsWith(file)));
    await waitFor(
      () => (missing().length === 0 ? true : undefined),
      'every archive of the living sidecars copied to the bucket',
      plus(WORK_BACKSTOP, { ms: 60_000, basis: 'backup.offsite.upload_timeout' }),
    ).catch((error: Error) => {
      throw new Error(`${error.message}; missing ${missing().join(', ')}; bucket ${inBucket().join(', ')}`);
    });
    const names = playground.storage.objects(ARCHIVES).map((object) => object.name);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(completed().map((each) => each.sidecar)).size).toBeGreaterThanOrEqual(2);
  });
});

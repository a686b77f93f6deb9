import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeMountProblem, mountOf, parseMountinfo, unsuitableMounts } from '../src/core/mount-table.js';

// Real mountinfo lines: the first is proc(5)'s own example; the gcsfuse line is a bucket mounted
// with gcsfuse on a Linux host (the type Cloud Storage FUSE mounts show, `fuse.gcsfuse`); the
// others are from a container like Cloud Run's (overlay root, tmpfs for an in-memory volume, an
// NFS export from Filestore).
const SAMPLE = [
  '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
  '535 516 0:4 mnt:[4026532862] /run/snapd/ns/lxd.mnt rw - nsfs nsfs rw',
  '44 73 0:43 / /home/gianl/gcs-models ro,nosuid,nodev,relatime shared:49 - fuse.gcsfuse driftbench-dsv4-uc ro,user_id=2001,group_id=2001,default_permissions',
  '600 1 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w',
  '601 600 0:53 / /data rw,nosuid,nodev - tmpfs tmpfs rw,size=524288k',
  '602 600 0:54 / /data/shared rw,relatime - nfs4 10.0.0.2:/vol1 rw,vers=4.1,addr=10.0.0.2',
  '603 600 0:55 / /data/my\\040bucket rw,nosuid,nodev,relatime - fuse.gcsfuse app-bucket rw,user_id=0,group_id=0',
  '',
].join('\n');

describe('parseMountinfo', () => {
  it('reads the mount point and the type after the separator, with optional fields or none', () => {
    const entries = parseMountinfo(SAMPLE);
    expect(entries).toHaveLength(7);
    expect(entries[0]).toEqual({ mountPoint: '/mnt2', fsType: 'ext3', source: '/dev/root' });
    expect(entries[2]).toEqual({
      mountPoint: '/home/gianl/gcs-models',
      fsType: 'fuse.gcsfuse',
      source: 'driftbench-dsv4-uc',
    });
  });

  it('decodes the octal escapes the kernel writes for spaces', () => {
    expect(parseMountinfo(SAMPLE)[6]?.mountPoint).toBe('/data/my bucket');
  });

  it('skips lines without the separator instead of failing', () => {
    expect(parseMountinfo('garbage\n1 2 3\n36 35 98:0 / / rw - ext4 /dev/sda1 rw\n')).toEqual([
      { mountPoint: '/', fsType: 'ext4', source: '/dev/sda1' },
    ]);
  });

  it.runIf(existsSync('/proc/self/mountinfo'))(
    'reads this machine’s own table, which has a root mount',
    () => {
      const entries = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
      expect(mountOf('/', entries)?.mountPoint).toBe('/');
    },
  );
});

describe('mountOf', () => {
  const entries = parseMountinfo(SAMPLE);

  it('takes the longest mount point that holds the path', () => {
    expect(mountOf('/data/shared/db.sqlite3', entries)?.fsType).toBe('nfs4');
    expect(mountOf('/data/db.sqlite3', entries)?.fsType).toBe('tmpfs');
    expect(mountOf('/srv/app', entries)?.fsType).toBe('overlay');
  });

  it('matches whole path segments only', () => {
    expect(mountOf('/data/shared-not/x', entries)?.fsType).toBe('tmpfs');
    expect(mountOf('/data/my bucket/tenants', entries)?.fsType).toBe('fuse.gcsfuse');
  });

  it('takes the mount listed last when two sit on one point (the one on top)', () => {
    const stacked = parseMountinfo(
      '1 0 0:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:2 / /data rw - fuse.gcsfuse bucket rw\n3 1 0:3 / /data rw - tmpfs tmpfs rw\n',
    );
    expect(mountOf('/data/db.sqlite3', stacked)?.fsType).toBe('tmpfs');
  });
});

describe('unsuitableMounts', () => {
  const entries = parseMountinfo(SAMPLE);

  it('refuses folders on Cloud Storage FUSE, naming folder, mount and reason', () => {
    const problems = unsuitableMounts(
      [
        { folder: '/data/my bucket', use: 'backup source' },
        { folder: '/data/shared', use: 'backup folder (archives and the backup lock)' },
        { folder: '/data/state', use: 'state_dir (store and daemon lock)' },
      ],
      entries,
    );
    expect(problems).toHaveLength(1);
    const message = describeMountProblem(problems[0] as (typeof problems)[0]);
    expect(message).toContain(
      'backup source /data/my bucket is on /data/my bucket (fuse.gcsfuse, source app-bucket)',
    );
    expect(message).toContain('no file locking, no atomic rename and no hard links');
  });

  it('accepts local disks, in-memory volumes and NFS', () => {
    expect(
      unsuitableMounts(
        [
          { folder: '/data', use: 'backup source' },
          { folder: '/data/shared/state', use: 'state_dir (store and daemon lock)' },
          { folder: '/mnt2/x', use: 'backup folder (archives and the backup lock)' },
        ],
        entries,
      ),
    ).toEqual([]);
  });
});

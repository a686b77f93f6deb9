import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import { type ConfigInput, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { useCleanups, useTempDir } from './helpers/temp.js';

// The daemon reads the mount table at start and refuses Cloud Storage FUSE under its lock, its
// store or a backup source; the table is a file the test writes, as /proc/self/mountinfo would read.

const tempDir = useTempDir('runwarden-mounts-');
const cleanups = useCleanups();

function setUp(input: ConfigInput, gcsfuseAt: (dir: string) => string) {
  const dir = realpathSync(tempDir());
  makeDataDir(dir);
  const config = configSchema.parse({
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: { dir: path.join(dir, 'backups'), sources: { data_dir: path.join(dir, 'data') } },
    ...input,
  });
  resolveBackupPaths(config.backup, dir);
  const mountinfo = path.join(dir, 'mountinfo');
  writeFileSync(
    mountinfo,
    [
      '600 1 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w',
      `603 600 0:55 / ${gcsfuseAt(dir)} rw,nosuid,nodev,relatime - fuse.gcsfuse app-bucket rw,user_id=0,group_id=0`,
      '',
    ].join('\n'),
  );
  return { dir, config, mountinfo };
}

async function started(promise: ReturnType<typeof startDaemon>) {
  const daemon = await promise;
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  return daemon;
}

describe('Cloud Storage FUSE refused at start', () => {
  it('a backup source on it: the daemon does not start, and names the folder, the mount and why', async () => {
    const { dir, config, mountinfo } = setUp({ role: 'backup' }, (dir) => path.join(dir, 'data'));
    const start = startDaemon(config, silentLogger, { mountinfo });
    await expect(start).rejects.toMatchObject({ code: 'RW_UNSUITABLE_MOUNT' });
    await expect(start).rejects.toThrow(
      `backup source ${path.join(dir, 'data')} is on ${path.join(dir, 'data')} (fuse.gcsfuse, source app-bucket)`,
    );
    await expect(start).rejects.toThrow('no file locking, no atomic rename and no hard links');
    // Refused before anything was created: no state folder, no lock, no store.
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  });

  it('the backup folder (where the backup lock is) on it is refused too', async () => {
    const { config, mountinfo } = setUp({}, (dir) => dir);
    await expect(startDaemon(config, silentLogger, { mountinfo })).rejects.toThrow(
      /state_dir \(store and daemon lock\) .*; backup folder \(archives and the backup lock\) /,
    );
  });

  it('the watch role reads no backup source: it starts with the data on Cloud Storage FUSE', async () => {
    const { config, mountinfo } = setUp({ role: 'watch' }, (dir) => path.join(dir, 'data'));
    const daemon = await started(startDaemon(config, silentLogger, { mountinfo }));
    expect(daemon.context.config.role).toBe('watch');
  });

  it('but no role holds its lock and store there', async () => {
    const { config, mountinfo } = setUp({ role: 'watch' }, (dir) => path.join(dir, 'state'));
    await expect(startDaemon(config, silentLogger, { mountinfo })).rejects.toThrow(
      /^refusing to start: state_dir/,
    );
  });

  it('a folder not created yet is judged by the mount it will be created on', async () => {
    const { config, mountinfo } = setUp({ role: 'backup' }, (dir) => dir);
    config.backup.dir = path.join(config.backup.dir, 'not', 'yet');
    await expect(startDaemon(config, silentLogger, { mountinfo })).rejects.toThrow(
      `backup folder (archives and the backup lock) ${config.backup.dir} is on`,
    );
  });
});

import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';

/** Mounts a tmpfs of `size` (e.g. `2m`) at `dir`; false when this environment does not permit it. */
function mount(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

function probeMount(): boolean {
  const probe = path.join(process.env.TMPDIR ?? '/tmp', `runwarden-mount-probe-${process.pid}`);
  const mounted = mount(probe, '1m');
  if (mounted) execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return mounted;
}

const canMount = probeMount();

/**
 * Whether the disk-full tests are skipped: only where tmpfs cannot be mounted AND this is not CI.
 * CI runs as root and must mount; there a failed mount fails the test instead of hiding it.
 */
export const skipSmallDisk = !canMount && process.env.CI !== 'true';

/**
 * Small tmpfs disks for this test file, unmounted after each test. `mount(dir, size)` throws naming
 * the command when mounting fails, so a CI without the permission fails loudly.
 */
export function useSmallDisks(): { mount(dir: string, size: string): void } {
  const mounts: string[] = [];
  afterEach(() => {
    for (const dir of mounts.splice(0).reverse()) spawnSync('umount', ['-l', dir]);
  });
  return {
    mount(dir, size) {
      if (!mount(dir, size))
        throw new Error(`mount -t tmpfs -o size=${size} tmpfs ${dir} failed: the disk-full tests need root`);
      mounts.push(dir);
    },
  };
}

/**
 * Fills the filesystem holding `dir` to the last byte with `<dir>/<name>` and returns its path;
 * deleting that file frees the space again.
 */
export function fillDisk(dir: string, name = 'filler.bin'): string {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        size = Math.floor(size / 2); // the last free blocks take smaller writes
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

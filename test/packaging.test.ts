import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const unit = fileURLToPath(new URL('../systemd/runwarden.service', import.meta.url));
const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');

const SMOKE_BACKSTOP_MS = 1_800_000;

function run(command: string, args: string[], timeout = 60_000) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, error: result.error };
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    const result = run('systemd-analyze', ['verify', unit]);
    expect(result.error).toBeUndefined();
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('is rated 2.0 or lower by systemd-analyze security --offline', () => {
    const result = run('systemd-analyze', ['security', '--offline=true', unit]);
    const exposure = /Overall exposure level for runwarden\.service: ([0-9.]+)/.exec(result.output);
    expect(exposure, result.output).not.toBeNull();
    expect(Number(exposure?.[1])).toBeLessThanOrEqual(2.0);
  });

  it('waits longer for a stop than the default grace period', () => {
    const text = readFileSync(unit, 'utf8');
    const stopSeconds = Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1]);
    const graceMs = configSchema.parse({}).shutdown.grace_period;
    expect(stopSeconds * 1000).toBeGreaterThan(graceMs);
    expect(text).toMatch(/^Restart=on-failure$/m);
    expect(text).toMatch(/^StateDirectory=runwarden$/m);
  });
});

describe('Dockerfile', () => {
  it('builds in stages and runs as a non-root user with volumes and a health check', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^FROM node:(22|24)-/m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^VOLUME \[.*"\/var\/lib\/runwarden".*"\/var\/backups\/runwarden"/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "dist\/cli\/main\.js", "healthcheck"/m);
  });

  it('uses the exec form for the entrypoint, so SIGTERM reaches the daemon', () => {
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["node", "--max-semi-space-size=4", "--v8-pool-size=1", "dist\/cli\/main\.js"\]$/m,
    );
    expect(dockerfile).toMatch(/^CMD \["daemon"/m);
  });

  it(
    "reproduces the image's production install and start (scripts/docker-smoke.sh)",
    () => {
      // Nothing configures how long `npm ci` and a build take: a backstop for a machine loaded several
      // times over (a run beside two CPU hogs took over 600 s), not a measure of anything.
      const result = run('bash', ['scripts/docker-smoke.sh'], SMOKE_BACKSTOP_MS);
      expect(result.output).toContain('smoke: OK');
      expect(result.status).toBe(0);
    },
    SMOKE_BACKSTOP_MS + 20_000,
  );
});

describe('node flags', () => {
  it('the systemd unit, the Dockerfile and the docker smoke run node with the flags of the CLI shebang', () => {
    const shebang =
      readFileSync(new URL('../src/cli/main.ts', import.meta.url), 'utf8').split('\n', 1)[0] ?? '';
    const flags = /^#!\/usr\/bin\/env -S node((?: --[\w-]+=\S+)+)$/.exec(shebang)?.[1]?.trim();
    expect(flags, shebang).toContain('--v8-pool-size=1');
    expect(readFileSync(unit, 'utf8')).toContain(
      `ExecStart=/usr/bin/node ${flags} /opt/runwarden/dist/cli/main.js daemon`,
    );
    const entrypoint = ['node', ...(flags ?? '').split(' '), 'dist/cli/main.js']
      .map((arg) => `"${arg}"`)
      .join(', ');
    expect(dockerfile).toContain(`ENTRYPOINT [${entrypoint}]`);
    expect(readFileSync(new URL('../scripts/docker-smoke.sh', import.meta.url), 'utf8')).toContain(
      `node ${flags} dist/cli/main.js daemon`,
    );
  });
});

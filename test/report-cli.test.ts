import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { spawnCli } from './helpers/cli.js';
import { type Harness, keepTraffic, useWatchHarness } from './helpers/watch-harness.js';

const { ready } = useWatchHarness('runwarden-report-cli-');

/** A config for the built CLI over the harness's state folder: the report reads the store alone. */
function configFor(h: Harness): string {
  const file = path.join(h.stateDir, 'runwarden.yaml');
  const service = h.config.services[0]!;
  writeFileSync(
    file,
    stringify({
      state_dir: h.stateDir,
      services: [{ project: service.project, region: service.region, service: service.service }],
    }),
  );
  return file;
}

describe('runwarden report, after a real watch against the emulator', () => {
  it('prints the rollback incident in order, as JSON, since a time, and refuses unknown ids', async () => {
    const { h, v1 } = await ready();
    // A promotion first (the window passes clean), then a deploy whose /health fails: rolled back.
    const stopTraffic = keepTraffic(h.playground);
    let v2 = '';
    try {
      v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      await h.runUntilEvent('watch:promoted', (event) => event.candidate === v2);
    } finally {
      await stopTraffic();
    }
    const v3 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    const completed = await h.runUntilEvent('rollback:completed', (event) => event.candidate === v3);
    expect(completed).toMatchObject({ to: v2, confirmed: true });
    const rollbackId = h.store.history.idOf('rollback:completed', 'shop', completed.at);
    expect(rollbackId).toBeGreaterThan(0);
    const config = configFor(h);
    const cli = async (...args: string[]) => {
      const run = spawnCli(['report', ...args, '--config', config]);
      const { code } = await run.exited;
      return { status: code, stdout: run.output.stdout, stderr: run.output.stderr };
    };

    const md = await cli('--rollback', String(rollbackId));
    expect(md.stderr).toBe('');
    expect(md.status).toBe(0);
    const text = md.stdout;
    expect(text.startsWith(`# Incident: shop: ${v3} rolled back to ${v2}\n`)).toBe(true);
    const order = [
      '| +0s | deploy seen: watching',
      'TRIP: rule health',
      '| rollback sent (watch)',
      '| rollback confirmed',
      '| health afterwards: healthy',
    ];
    const positions = order.map((needle) => text.indexOf(needle));
    expect(
      positions.every((position) => position >= 0),
      `${order.join(', ')} in:\n${text}`,
    ).toBe(true);
    expect(positions, text).toEqual([...positions].sort((a, b) => a - b));
    expect(text).toMatch(/TRIP: rule health \(health, rollback\): unhealthy, value \d+ vs threshold 3/);
    expect(text).toContain('## Restore point');
    expect(text).toMatch(/- Backup: `[^`]+\.zip` \(source: watch_start\)/);
    expect(text).toContain('Schema drift since the restore point, at the rollback: unchanged');
    expect(text).toContain(
      `https://console.cloud.google.com/run/detail/${h.playground.region}/shop/revisions?project=${h.playground.project}`,
    );
    expect(text).toContain(
      'https://console.cloud.google.com/logs/query;query=resource.type%3D%22cloud_run_revision%22',
    );
    expect(text).toContain(`resource.labels.revision_name="${v3}"`);
    for (const heading of ['## Cause', '## Resolution', '## Prevention'])
      expect(text).toContain(`\n${heading}\n`);
    // Stable: the same store prints the same text.
    expect((await cli('--rollback', String(rollbackId))).stdout).toBe(text);

    const json = await cli('--rollback', String(rollbackId), '--format', 'json');
    expect(json.status).toBe(0);
    const { incidents, since } = JSON.parse(json.stdout);
    expect(since).toBeNull();
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      service: 'shop',
      candidate: v3,
      stable: v2,
      outcome: 'rolled_back',
      restore_point: { source: 'watch_start', schema_changed: false },
      links: { revisions: expect.stringContaining('/run/detail/'), log_query: expect.stringContaining(v3) },
      questions: { cause: '', resolution: '', prevention: '' },
    });
    expect(incidents[0].rollback_ids).toContain(rollbackId);
    expect(incidents[0].timeline[0]).toMatchObject({ kind: 'deploy_seen', offset: '+0s' });
    expect(incidents[0].rules.find((rule: { rule: string }) => rule.rule === 'health')).toMatchObject({
      threshold: 3,
    });

    const all = await cli('--since', '1h', '--format', 'json');
    expect(all.status).toBe(0);
    expect(
      JSON.parse(all.stdout).incidents.map((incident: { candidate: string; outcome: string }) => [
        incident.candidate,
        incident.outcome,
      ]),
    ).toEqual([
      [v2, 'promoted'],
      [v3, 'rolled_back'],
    ]);
    const allText = (await cli('--since', '1h')).stdout;
    expect(allText).toMatch(/^# Incidents since \S+Z\n/);
    expect(allText).toContain(`## Incident: shop: ${v2} promoted`);
    expect(allText).toContain(`## Incident: shop: ${v3} rolled back to ${v2}`);

    const nothing = await cli('--since', `${new Date().toISOString().slice(0, 19)}Z`);
    expect(nothing.status).toBe(0);
    expect(nothing.stdout).toContain('No incident');

    const unknown = await cli('--rollback', '99999');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('--rollback 99999: no such rollback');
    const unknownWatch = await cli('--watch', '99999', '--json');
    expect(unknownWatch.status).toBe(2);
    expect(JSON.parse(unknownWatch.stdout).error).toMatchObject({
      code: 'RW_USAGE',
      message: '--watch 99999: no such watch',
    });
    const badTime = await cli('--since', 'last tuesday');
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toContain('--since last tuesday: not a time');
    const none = await cli();
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('give exactly one of --watch ID, --rollback ID or --since TIME');
    expect(v1).not.toBe(v2);
  });
});

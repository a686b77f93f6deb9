import { PROCESS_START } from './helpers/deadlines.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/telemetry/logger.js';
import { spawnCli, waitFor } from './helpers/cli.js';
import { repeatedKeys, topLevelKeys } from './helpers/json-keys.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write: (chunk, _encoding, done) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ format: 'json', destination }) };
}

describe('log lines', () => {
  it('name their component in one key, once, the innermost child winning', () => {
    const { lines, logger } = capture();
    logger.info('root');
    const watch = logger.child({ component: 'watch' });
    watch.info('child');
    watch.child({ service: 'shop' }).info('grandchild without a component');
    watch.child({ component: 'backup', service: 'shop' }).info('grandchild with its own component');
    logger.child({ component: 'http' }).info({ route: '/metrics' }, 'with fields');

    expect(lines).toHaveLength(5);
    for (const line of lines) expect(repeatedKeys(line), line).toEqual([]);
    expect(lines.map((line) => JSON.parse(line).component)).toEqual([
      'runwarden',
      'watch',
      'watch',
      'backup',
      'http',
    ]);
    expect(JSON.parse(lines[2] as string).service).toBe('shop');
    expect(JSON.parse(lines[4] as string).route).toBe('/metrics');
  });

  it('carry a field bound by a child and given again by the call once, with the value of the call', () => {
    const { lines, logger } = capture();
    const shop = logger.child({ component: 'watch', service: 'shop', token: 'bound-secret' });
    shop.warn({ service: 'cart' }, 'the call names another service');
    shop.info('bound values only');
    for (const line of lines) expect(repeatedKeys(line), line).toEqual([]);
    expect(lines.map((line) => JSON.parse(line).service)).toEqual(['cart', 'shop']);
    expect(lines.join('\n')).not.toContain('bound-secret');
    expect(JSON.parse(lines[1] as string).token).toBe('[redacted]');
  });

  it('of a running daemon carry no repeated key', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'runwarden.yaml');
    // No webhook credentials: the alerts component warns at start, so a child's line is among them.
    writeFileSync(
      config,
      'state_dir: ./state\nserver: { address: "127.0.0.1:0" }\nlog: { format: json }\nbackup: { enabled: false }\n',
    );
    const daemon = spawnCli(['daemon', '--config', config]);
    try {
      await waitFor(
        () => (daemon.output.stdout.includes('runwarden daemon ready') ? true : undefined),
        'the daemon to be ready',
        PROCESS_START,
      );
    } finally {
      daemon.child.kill('SIGTERM');
    }
    expect((await daemon.exited).code).toBe(0);
    const lines = daemon.output.stdout.trim().split('\n');
    const components = new Set(lines.map((line) => JSON.parse(line).component));
    expect(components).toContain('alerts');
    for (const line of lines) {
      expect(repeatedKeys(line), line).toEqual([]);
      expect(topLevelKeys(line).filter((key) => key === 'component')).toHaveLength(1);
    }
  });
});

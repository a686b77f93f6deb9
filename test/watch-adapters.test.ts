import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { toObservation, toRevisionInfo } from '../src/cloudrun/service-schema.js';
import { compareSchema, type SchemaFingerprint } from '../src/core/schema-change.js';
import { FatalError, RetryableError } from '../src/core/errors.js';
import { mapGoogleError } from '../src/google/grpc-errors.js';
import { backoffDelay, withRetry } from '../src/google/retry.js';
import { UndiciHealthProber } from '../src/signals/health-probe.js';
import { SharedSchemaInspector, SqliteSchemaInspector } from '../src/watch/app-schema.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-adapters-');

describe('Google API errors at the boundary', () => {
  const grpc = (code: number, details = 'boom') => Object.assign(new Error(`${code} ${details}`), { code });

  it('maps transient codes to RetryableError and the rest to FatalError, with stable codes', () => {
    expect(mapGoogleError('get service x', grpc(14), 'CLOUDRUN')).toMatchObject({
      code: 'RW_CLOUDRUN_UNAVAILABLE',
    });
    expect(mapGoogleError('get service x', grpc(14), 'CLOUDRUN')).toBeInstanceOf(RetryableError);
    expect(mapGoogleError('x', grpc(4), 'MONITORING')).toMatchObject({ code: 'RW_MONITORING_TIMEOUT' });
    expect(mapGoogleError('x', grpc(8), 'CLOUDRUN')).toMatchObject({ code: 'RW_CLOUDRUN_THROTTLED' });
    const conflict = mapGoogleError('update traffic of x', grpc(10), 'CLOUDRUN');
    expect(conflict).toBeInstanceOf(FatalError);
    expect(conflict).toMatchObject({ code: 'RW_CLOUDRUN_CONFLICT' });
    expect(conflict.message).toBe('update traffic of x: 10 boom');
    expect(mapGoogleError('x', grpc(7), 'CLOUDRUN')).toMatchObject({ code: 'RW_CLOUDRUN_DENIED' });
    expect(mapGoogleError('x', grpc(5), 'CLOUDRUN')).toMatchObject({ code: 'RW_CLOUDRUN_NOT_FOUND' });
    expect(
      mapGoogleError('x', new Error('Could not load the default credentials'), 'CLOUDRUN'),
    ).toMatchObject({
      code: 'RW_CLOUDRUN_CREDENTIALS',
    });
  });
});

describe('retry with backoff within a deadline', () => {
  it('backoff doubles, is capped, and jitters between half and all of it', () => {
    const policy = { deadlineMs: 1_000, initialDelayMs: 100, maxDelayMs: 350 };
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, policy, () => 1))).toEqual([
      100, 200, 350, 350,
    ]);
    expect(backoffDelay(2, policy, () => 0)).toBe(100);
  });

  it('retries RetryableError until it succeeds; FatalError is not retried', async () => {
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new RetryableError('RW_X', 'flaky');
        return 'ok';
      },
      { deadlineMs: 5_000, initialDelayMs: 1, maxDelayMs: 2 },
      AbortSignal.timeout(5_000),
    );
    expect([value, calls]).toEqual(['ok', 3]);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new FatalError('RW_Y', 'no');
        },
        { deadlineMs: 5_000 },
        AbortSignal.timeout(5_000),
      ),
    ).rejects.toMatchObject({ code: 'RW_Y' });
    expect(calls).toBe(1);
  });

  it('gives up at the deadline, keeping the class and code and saying how many attempts were made', async () => {
    let now = 0;
    const error = await withRetry(
      async () => {
        now += 400;
        throw new RetryableError('RW_CLOUDRUN_UNAVAILABLE', 'down');
      },
      { deadlineMs: 1_000, initialDelayMs: 1, maxDelayMs: 1 },
      AbortSignal.timeout(5_000),
      { clock: () => now },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({
      code: 'RW_CLOUDRUN_UNAVAILABLE',
      message: 'gave up after 3 attempt(s): down',
    });
  });
});

describe('Cloud Run responses are checked at the boundary', () => {
  it('reads etag, URL, latest ready revision and the served traffic, LATEST resolved', () => {
    const observation = toObservation({
      name: 'projects/p/locations/r/services/shop',
      etag: '"e1"',
      uri: 'https://shop.run.app',
      latestReadyRevision: 'projects/p/locations/r/services/shop/revisions/shop-2',
      trafficStatuses: [
        { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', revision: '', percent: 90 },
        {
          type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
          revision: 'shop-1',
          percent: 10,
          tag: 'blue',
          uri: 'https://blue',
        },
      ],
    });
    expect(observation).toEqual({
      etag: '"e1"',
      uri: 'https://shop.run.app',
      latestReady: 'shop-2',
      traffic: [
        { revision: 'shop-2', percent: 90, latest: true },
        { revision: 'shop-1', percent: 10, tag: 'blue', uri: 'https://blue' },
      ],
    });
  });

  it('a malformed response fails loudly, naming where', () => {
    expect(() => toObservation({ name: 'x', trafficStatuses: [{ percent: 140 }] })).toThrow(
      expect.objectContaining({
        code: 'RW_CLOUDRUN_RESPONSE',
        message: expect.stringContaining('trafficStatuses.0.percent'),
      }),
    );
    expect(() => toRevisionInfo({})).toThrow(expect.objectContaining({ code: 'RW_CLOUDRUN_RESPONSE' }));
  });

  it('a revision is ready when its Ready condition succeeded', () => {
    const revision = (state: string) =>
      toRevisionInfo({
        name: 'projects/p/locations/r/services/shop/revisions/shop-1',
        createTime: { seconds: '1700000000', nanos: 5_000_000 },
        conditions: [{ type: 'Ready', state }],
      });
    expect(revision('CONDITION_SUCCEEDED')).toEqual({
      name: 'shop-1',
      ready: true,
      createdAt: 1_700_000_000_005,
    });
    expect(revision('CONDITION_FAILED').ready).toBe(false);
  });
});

describe('health probe (undici, real HTTP server on port 0)', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('any 2xx is healthy; anything else, a timeout or a refused connection is a failure with a reason', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/health') res.end('ok');
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 2_000);
      else if (req.url === '/moved') res.writeHead(302, { location: '/health' }).end();
      else res.writeHead(503).end('down');
    });
    const prober = new UndiciHealthProber();
    const signal = AbortSignal.timeout(10_000);
    expect(await prober.probe(`${base}/health`, 1_000, signal)).toMatchObject({ ok: true, status: 200 });
    expect(await prober.probe(`${base}/down`, 1_000, signal)).toMatchObject({ ok: false, status: 503 });
    expect(await prober.probe(`${base}/moved`, 1_000, signal)).toMatchObject({ ok: false, status: 302 });
    expect(await prober.probe(`${base}/slow`, 100, signal)).toMatchObject({ ok: false, error: 'TIMEOUT' });
    expect(await prober.probe('http://127.0.0.1:1/health', 1_000, signal)).toMatchObject({
      ok: false,
      error: 'ECONNREFUSED',
    });
    await expect(prober.probe(`${base}/health`, 0, signal)).rejects.toThrow(
      'probe timeout must be more than 0 ms',
    );
  });
});

describe('schema fingerprint of the main database (real SQLite)', () => {
  it('reads schema_version and the django_migrations rows, read-only; a missing file is null', async () => {
    const file = path.join(tempDir(), 'db.sqlite3');
    const inspector = new SqliteSchemaInspector(file);
    const signal = AbortSignal.timeout(5_000);
    expect(await inspector.fingerprint(signal)).toBeNull();
    const db = new Database(file);
    db.exec('CREATE TABLE t (id INTEGER)');
    const plain = await inspector.fingerprint(signal);
    expect(plain).toEqual({ schemaVersion: 1, migrations: null, tenants: {} });
    db.exec(
      "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT); INSERT INTO django_migrations (app, name) VALUES ('shop', '0001_initial')",
    );
    const before = await inspector.fingerprint(signal);
    expect(before).toEqual({ schemaVersion: 2, migrations: ['shop.0001_initial'], tenants: {} });
    db.exec(
      "ALTER TABLE t ADD COLUMN name TEXT; INSERT INTO django_migrations (app, name) VALUES ('shop', '0002_name')",
    );
    const after = await inspector.fingerprint(signal);
    db.close();
    expect(compareSchema(before, after)).toEqual({
      changed: true,
      detail:
        'schema changed: 1 migration(s) applied since: shop.0002_name; schema_version 2 -> 3; check whether the data needs the restore point',
      tenants: [],
    });
    expect(compareSchema(after, after).changed).toBe(false);
    expect(compareSchema(null, after)).toMatchObject({ changed: null });
  });

  it('reads every tenant database too, and says which tenants changed', async () => {
    const dir = tempDir();
    const main = path.join(dir, 'db.sqlite3');
    const tenantFile = (tenant: string) => path.join(dir, `${tenant}.sqlite3`);
    const migrate = (file: string, name: string) => {
      const db = new Database(file);
      db.exec(
        `CREATE TABLE IF NOT EXISTS django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT); CREATE TABLE t_${name} (id INTEGER); INSERT INTO django_migrations (app, name) VALUES ('shop', '${name}')`,
      );
      db.close();
    };
    for (const file of [main, tenantFile('acme'), tenantFile('globex')]) migrate(file, '0001_initial');
    let tenants = ['acme', 'globex'];
    const inspector = new SqliteSchemaInspector(main, async () =>
      tenants.map((tenant) => ({ tenant, file: tenantFile(tenant) })),
    );
    const signal = AbortSignal.timeout(5_000);
    const before = await inspector.fingerprint(signal);
    expect(Object.keys(before?.tenants ?? {})).toEqual(['acme', 'globex']);
    expect(compareSchema(before, before)).toMatchObject({ changed: false, tenants: [] });
    expect(compareSchema(before, before).detail).toContain('2 tenant database(s) too');

    migrate(tenantFile('globex'), '0002_price');
    migrate(tenantFile('initech'), '0001_initial');
    tenants = ['globex', 'initech'];
    const change = compareSchema(before, await inspector.fingerprint(signal));
    expect(change).toMatchObject({ changed: true, tenants: ['globex'] });
    expect(change.detail).toMatch(
      /^schema changed \(tenants changed: globex\): tenant globex: 1 migration\(s\) applied since: shop\.0002_price, schema_version \d+ -> \d+; tenants new since: initech; tenants gone since: acme;/,
    );

    // Recorded before tenants were compared: the main database alone, and the detail says so.
    const mainOnly = { schemaVersion: before!.schemaVersion, migrations: before!.migrations };
    const unknown = compareSchema(mainOnly, await inspector.fingerprint(signal));
    expect(unknown).toMatchObject({ changed: false, tenants: [] });
    expect(unknown.detail).toContain('tenant databases not compared (the restore point did not record them)');
  });

  it('a tenant database that cannot be read is a clear error naming it', async () => {
    const dir = tempDir();
    const main = path.join(dir, 'db.sqlite3');
    new Database(main).close();
    const broken = path.join(dir, 'broken.sqlite3');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(broken, 'this is not a database');
    const inspector = new SqliteSchemaInspector(main, async () => [{ tenant: 'broken', file: broken }]);
    await expect(inspector.fingerprint(AbortSignal.timeout(5_000))).rejects.toMatchObject({
      code: 'RW_SCHEMA_READ',
      message: expect.stringContaining(`read the schema of ${broken}`),
    });
  });

  it('one read serves every service of a tick: overlapping and recent calls share it; a failure is not kept', async () => {
    let reads = 0;
    let fail = false;
    let now = 1_000;
    const inner = {
      fingerprint: async () => {
        reads += 1;
        await new Promise((resolve) => setImmediate(resolve));
        if (fail) throw new Error('disk gone');
        return { schemaVersion: reads, migrations: null, tenants: {} };
      },
    };
    const shared = new SharedSchemaInspector(inner, () => now, 15_000);
    const signal = AbortSignal.timeout(5_000);
    const fifty = await Promise.all(Array.from({ length: 50 }, () => shared.fingerprint(signal)));
    expect(reads).toBe(1);
    expect(new Set(fifty.map(schemaVersionOf))).toEqual(new Set([1]));
    now += 14_999;
    expect(schemaVersionOf(await shared.fingerprint(signal))).toBe(1);
    now += 1;
    expect(schemaVersionOf(await shared.fingerprint(signal))).toBe(2);
    now += 15_000;
    fail = true;
    await expect(shared.fingerprint(signal)).rejects.toThrow('disk gone');
    fail = false;
    expect(schemaVersionOf(await shared.fingerprint(signal))).toBe(4);
    expect(reads).toBe(4);
  });

  it('an unreadable file is a clear error naming it, and the file is left untouched', async () => {
    const file = path.join(tempDir(), 'db.sqlite3');
    const { writeFileSync, readFileSync } = await import('node:fs');
    writeFileSync(file, 'this is not a database');
    await expect(
      new SqliteSchemaInspector(file).fingerprint(AbortSignal.timeout(5_000)),
    ).rejects.toMatchObject({
      code: 'RW_SCHEMA_READ',
      message: expect.stringContaining(`read the schema of ${file}`),
    });
    expect(readFileSync(file, 'utf8')).toBe('this is not a database');
  });
});

/** The file fingerprint's schema_version (the shared inspector's type also admits archive ones). */
function schemaVersionOf(fingerprint: SchemaFingerprint | null): number | undefined {
  return fingerprint && 'schemaVersion' in fingerprint ? fingerprint.schemaVersion : undefined;
}

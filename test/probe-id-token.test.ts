import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GoogleIdTokenSource } from '../src/signals/id-token.js';
import { serviceStatuses } from '../src/watch/status.js';
import { probeJob } from '../src/watch/probe-job.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';
import { type Harness, knownFromHistory, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const { start } = useWatchHarness('runwarden-idtoken-');
const tempDir = useTempDir('runwarden-idtoken-env-');

const HEALTH_ONLY = {
  rules: [{ name: 'health', signal: 'health', threshold: 3 }],
  probe_auth: 'id_token',
};

/**
 * The real google-auth-library finds its credentials as on Google Cloud: Application Default
 * Credentials fall through to the metadata server, reached at the emulator through
 * GCE_METADATA_HOST. The suite runs with METADATA_SERVER_DETECTION=none, under which the library
 * never considers a metadata server and finds no credentials at all; this file alone sets
 * `assume-present` (use it without pinging first). HOME points at an empty folder and
 * GOOGLE_APPLICATION_CREDENTIALS is unset so a developer's own credentials are never picked up.
 */
const saved: Record<string, string | undefined> = {};
const ENV = [
  'METADATA_SERVER_DETECTION',
  'GCE_METADATA_HOST',
  'GCE_METADATA_IP',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'HOME',
];
beforeAll(() => {
  for (const name of ENV) saved[name] = process.env[name];
});
beforeEach(() => {
  process.env.METADATA_SERVER_DETECTION = 'assume-present';
  process.env.HOME = tempDir();
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  delete process.env.GCE_METADATA_IP;
});
afterAll(() => {
  for (const name of ENV) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** A harness whose `shop` is private: only `invokers` may call it (default: the metadata server's account). */
async function privateShop(service: Record<string, unknown>, invokers?: string[]) {
  const h = await start({
    service: { ...HEALTH_ONLY, ...service },
    config: (playground) => ({ id_tokens: { iam_endpoint: playground.identity.iamEndpoint } }),
  });
  process.env.GCE_METADATA_HOST = h.playground.identity.metadataHost;
  h.playground.identity.setAccess('shop', { invokers: invokers ?? [h.playground.identity.serviceAccount] });
  const v1 = knownFromHistory(h);
  await h.runUntil(() => h.store.services.get('shop')?.snapshot ?? undefined);
  return { h, v1 };
}

/** Gives the stable revision a tag, so its own URL can be probed while a candidate serves. */
async function tagStable(h: Harness, v1: string): Promise<void> {
  await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v1, percent: 100, tag: 'stable' }]);
}

function probeAuthFailures(h: Harness) {
  return h.seen
    .filter((entry) => entry.name === 'watch:failure')
    .map(
      (entry) =>
        entry.payload as {
          operation: string;
          candidate: string | null;
          reason: string;
          error: { code: string };
        },
    )
    .filter((payload) => payload.operation === 'probe_auth');
}

describe('probes of a private service carry a Google-signed ID token', () => {
  it('the emulator refuses callers without a token (401), and probes with the metadata server token pass', async () => {
    const { h } = await privateShop({});
    const anonymous = await fetch(new URL('/health', h.playground.serviceUrl('shop')));
    expect(anonymous.status).toBe(401);
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    const promoted = await h.runUntilEvent('watch:promoted');
    expect(promoted.candidate).toBe(v2);
    const probes = h.runtime.live.probesOf('shop', ['service']);
    expect(probes.length).toBeGreaterThan(2);
    expect(probes.every((probe) => probe.ok && probe.status === 200)).toBe(true);
    // One token for the whole watch: cached, not fetched per probe.
    expect(h.playground.identity.idTokensMinted()).toBe(1);
    expect(probeAuthFailures(h)).toEqual([]);
  });

  it('impersonating probe_service_account through the IAM Credentials API', async () => {
    const prober = 'prober@demo-project.iam.gserviceaccount.com';
    const { h } = await privateShop({ probe_service_account: prober }, [prober]);
    h.playground.identity.allowImpersonation(prober, h.playground.identity.serviceAccount);
    const signal = AbortSignal.timeout(WORK_BACKSTOP.ms);
    await probeJob(h.runtime, h.runtime.services[0]!, () => {}).runOnce(signal);
    expect(h.runtime.live.probesOf('shop', ['service']).at(-1)).toMatchObject({ ok: true, status: 200 });
  });

  it('an expired token is refused by the service, and the prober fetches a new one before that', async () => {
    const { h } = await privateShop({});
    h.playground.identity.setTokenLifetime(2);
    const audience = h.playground.serviceUrl('shop');
    // A token taken straight from the library, kept past its expiry: the service refuses it.
    const stale = await (await new GoogleAuth().getIdTokenClient(audience)).idTokenProvider.fetchIdToken(
      audience,
    );
    const exp = (JSON.parse(Buffer.from(stale.split('.')[1]!, 'base64url').toString()) as { exp: number })
      .exp;
    const minted = h.playground.identity.idTokensMinted();
    const service = h.runtime.services[0]!;
    await waitFor(
      async () => {
        await probeJob(h.runtime, service, () => {}).runOnce(AbortSignal.timeout(WORK_BACKSTOP.ms));
        return Date.now() > exp * 1000 + 1_000 || undefined;
      },
      'probes running past two token lifetimes',
      WORK_BACKSTOP,
      { every: 100 },
    );
    const refused = await fetch(new URL('/health', audience), {
      headers: { authorization: `Bearer ${stale}` },
    });
    expect(refused.status).toBe(401);
    const probes = h.runtime.live
      .probesOf('shop', ['service'])
      .filter((probe) => probe.at > exp * 1000 - 2_000);
    expect(probes.length).toBeGreaterThan(3);
    expect(probes.every((probe) => probe.ok)).toBe(true);
    expect(h.playground.identity.idTokensMinted() - minted).toBeGreaterThanOrEqual(2);
  });
});

describe('whose fault is a 401/403', () => {
  it('a candidate answering 403 while the stable revision answers 2xx to the same token is rolled back', async () => {
    const { h, v1 } = await privateShop({});
    await tagStable(h, v1);
    const v2 = await h.playground.deploy('shop', { behaviour: { healthStatus: 403 } });
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ candidate: v2, from: [v2], to: v1, rule: 'health' });
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    const refused = h.runtime.live.probesOf('shop', ['service']).filter((probe) => probe.status === 403);
    expect(refused.at(-1)?.auth).toBe('stable_accepted');
  });

  it.each([
    ['a wrong audience', { probe_audience: 'https://somewhere-else.example' }, undefined],
    ['a principal without run.invoker', {}, ['someone-else@demo-project.iam.gserviceaccount.com']],
  ])(
    '%s (403 from stable too) is auth_failed: announced, no rollback, insufficient data',
    async (_, service, invokers) => {
      const { h, v1 } = await privateShop(service, invokers);
      // Reported at once, at start: the serving revision refused the first probe.
      await h.runUntil(() => probeAuthFailures(h)[0]);
      expect(probeAuthFailures(h)[0]).toMatchObject({ candidate: null, error: { code: 'RW_PROBE_AUTH' } });
      await tagStable(h, v1);
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      const announced = await h.runUntil(() => probeAuthFailures(h).find((entry) => entry.candidate === v2));
      expect(announced.reason).toMatch(/^auth_failed: health: /);
      expect(serviceStatuses(h.runtime.services, h.runtime.store)[0]?.watch).toMatchObject({
        candidate: v2,
        auth_failed: true,
      });
      const ended = await h.runUntilEvent('watch:ended');
      expect(ended).toMatchObject({ candidate: v2, status: 'inconclusive' });
      expect(ended.reason).toMatch(/insufficient data at the deadline \(health: auth_failed, /);
      expect(h.seen.filter((entry) => entry.name.startsWith('rollback:'))).toEqual([]);
      expect(servedBy(h)).toMatchObject({ [v2]: 100 });
      const watch = h.runtime.store.watches.recent('shop', 1)[0]!;
      const verdicts = h.runtime.store.evaluations.forWatch(watch.id, 200).map((entry) => entry.verdict);
      expect(verdicts).toContain('auth_failed');
      expect(verdicts).not.toContain('unhealthy');
      expect(probeAuthFailures(h).filter((entry) => entry.candidate === v2)).toHaveLength(1);
    },
  );
});

describe('service-account key credentials (configuration only: the key flow posts to a fixed Google URL)', () => {
  it('GOOGLE_APPLICATION_CREDENTIALS naming a key file is used as a service-account key, with no network', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const file = path.join(tempDir(), 'key.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'service_account',
        project_id: 'demo-project',
        private_key_id: 'k1',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        client_email: 'prober@demo-project.iam.gserviceaccount.com',
        client_id: '1',
        token_uri: 'https://oauth2.googleapis.com/token',
      }),
    );
    process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
    process.env.METADATA_SERVER_DETECTION = 'none';
    const source = new GoogleIdTokenSource({ timeoutMs: 1_000, projectId: 'demo-project' });
    expect(await source.credentialKind()).toEqual({
      kind: 'service_account_key',
      email: 'prober@demo-project.iam.gserviceaccount.com',
    });
  });
});

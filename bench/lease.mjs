// 10. Leader lease: how long a standby takes to act after the leader is killed with SIGKILL (the
// leader is a child process holding the lease in the Cloud Storage emulator; the standby runs in
// this process), killed at a random point of its renew cycle; and the lease requests each daemon
// sends per minute, leader and standby, counted at the object store. Default TTL (15 s) and margin
// (3 s); quick mode uses a 1.5 s TTL and three kills.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST } from './lib/runwarden.mjs';
import { percentile } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '10. Lease failover';
const BUCKET = 'runwarden-lease-bench';
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'lease-child.mjs');

export const lease = {
  id: 'lease',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'failover p50 (SIGKILL to standby acting)', unit: 'ms' },
    { bench: BENCH, metric: 'failover p99', unit: 'ms' },
    { bench: BENCH, metric: 'lease requests per minute, leader', unit: 'count' },
    { bench: BENCH, metric: 'lease requests per minute, standby', unit: 'count' },
  ],
  async unavailable() {
    for (const file of ['playground/index.js', 'lease/gcs-lease.js']) {
      try {
        await import(path.join(DIST, file));
      } catch {
        return `dist/${file} missing or broken (run npm run build)`;
      }
    }
    return undefined;
  },
  async run(ctx) {
    const timing = ctx.quick ? { ttlMs: 1_500, marginMs: 300 } : { ttlMs: 15_000, marginMs: 3_000 };
    const kills = ctx.quick ? 3 : 20;
    const { startPlayground } = await import(path.join(DIST, 'playground', 'index.js'));
    const { GcsLease } = await import(path.join(DIST, 'lease', 'gcs-lease.js'));
    const { openGcsObjectStore } = await import(path.join(DIST, 'storage', 'gcs-object-store.js'));
    const { createLogger } = await import(path.join(DIST, 'telemetry', 'logger.js'));
    const playground = await startPlayground({ services: [{ name: 'unused' }], buckets: [BUCKET] });
    const endpoint = playground.storage.url;
    const logger = createLogger({ level: 'silent' });
    const counted = async () => {
      const store = await openGcsObjectStore({
        bucket: BUCKET,
        apiEndpoint: endpoint,
        retry: { maxRetries: 0 },
      });
      const counter = { requests: 0 };
      const wrapped = new Proxy(store, {
        get(target, key) {
          const value = target[key];
          if (typeof value !== 'function') return value;
          return (...args) => {
            counter.requests += 1;
            return value.apply(target, args);
          };
        },
      });
      return { store: wrapped, counter };
    };
    const newLease = (store, holder) => new GcsLease({ store, scope: 'watch', holder, timing, logger });
    try {
      const failovers = [];
      let standbyRequests = 0;
      let standbyMs = 0;
      for (let kill = 0; kill < kills; kill++) {
        ctx.log(`lease failover ${kill + 1}/${kills} (TTL ${format(timing.ttlMs, 'ms')})`);
        const child = spawn(
          process.execPath,
          [CHILD, DIST, endpoint, BUCKET, String(timing.ttlMs), String(timing.marginMs)],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        await new Promise((resolve, reject) => {
          child.stdout.on('data', (chunk) => String(chunk).includes('leader') && resolve());
          child.once('exit', (code) => reject(new Error(`lease child exited (${code}) before it led`)));
        });
        const { store, counter } = await counted();
        const standby = newLease(store, `bench-standby/${kill}`);
        const watchingFrom = performance.now();
        standby.start();
        await until(() => standby.view().holder !== undefined, timing.ttlMs * 4);
        // Killed at a random point of the leader's renew cycle.
        await sleep(Math.random() * (timing.ttlMs / 3));
        child.kill('SIGKILL');
        const killedAt = performance.now();
        // Requests of a standby while the leader was alive: its steady reads.
        standbyRequests += counter.requests;
        standbyMs += killedAt - watchingFrom;
        await until(() => standby.mayAct(), timing.ttlMs * 4);
        failovers.push(performance.now() - killedAt);
        await standby.stop();
      }
      // A leader alone, renewing for a while.
      const { store, counter } = await counted();
      const leader = newLease(store, 'bench-leader');
      leader.start();
      await until(() => leader.mayAct(), timing.ttlMs * 4);
      const from = counter.requests;
      const windowMs = ctx.quick ? 5_000 : 60_000;
      await sleep(windowMs);
      const leaderPerMinute = ((counter.requests - from) * 60_000) / windowMs;
      await leader.stop();
      const standbyPerMinute = (standbyRequests * 60_000) / standbyMs;
      const target = { max: timing.ttlMs + 2_000 };
      ctx.note(
        BENCH,
        `TTL ${format(timing.ttlMs, 'ms')}, margin ${format(timing.marginMs, 'ms')}; ${kills} SIGKILLs of a leader process at a random point of its renew cycle, the standby in the bench process; failover is from the kill to the standby's mayAct() turning true (its beforeActing hooks: none here). Per kill: ${failovers.map((ms) => format(ms, 'ms')).join(', ')}. Requests counted at the object store (one HTTP request each: client retries are off for leases); the standby's while the leader lived, the leader's over ${format(windowMs, 'ms')} alone. Expected: a renew every TTL/3 (${(180_000 / timing.ttlMs).toFixed(0)}/min at this TTL), a standby read every TTL/10 (${(600_000 / timing.ttlMs).toFixed(0)}/min).`,
      );
      return [
        figure({
          ...lease.metrics[0],
          value: percentile(failovers, 50),
          baseline: timing.ttlMs,
          baselineName: 'lease TTL',
          target,
          runs: kills,
        }),
        figure({
          ...lease.metrics[1],
          value: percentile(failovers, 99),
          baseline: timing.ttlMs,
          baselineName: 'lease TTL',
          target,
          runs: kills,
        }),
        figure({
          ...lease.metrics[2],
          value: leaderPerMinute,
          baseline: 180_000 / timing.ttlMs,
          baselineName: 'a renew every TTL/3',
          runs: 1,
        }),
        figure({
          ...lease.metrics[3],
          value: standbyPerMinute,
          baseline: 600_000 / timing.ttlMs,
          baselineName: 'a read every TTL/10',
          runs: kills,
        }),
      ];
    } finally {
      await playground.stop();
    }
  },
};

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check, withinMs) {
  const deadline = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`lease bench: condition not met within ${withinMs} ms`);
    await sleep(10);
  }
}

// 8. Hostile webhook bodies: the built daemon's memory under a flood of hostile requests to its
// webhook routes, many with a valid token (a leaked token or a broken proxy), sent 50 at a time:
// bodies nested 20,000 deep on every JSON route, oversized bodies, slow uploads that hold their
// place (so the in-flight cap answers 503), unauthenticated ones. The figure is the daemon's peak
// RSS during the flood over its idle RSS measured just before, in the same run; the target is at
// most 50 MiB. A second flood, reported without a target, sends wide 1 MiB bodies of valid JSON
// (thousands of malformed alerts): what any large body costs the heap, whatever its shape.
import path from 'node:path';
import { emulatedUnavailable, startDaemon, startEmulator, TOKEN } from './lib/emulated.mjs';
import { highWaterBytes, resetHighWater, rssBytes } from './lib/proc.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '8. Hostile webhook bodies';
const MB = 1024 * 1024;
const AT_ONCE = 50;
/** The daemon's default `server.body_limit_bytes`. */
const BODY_LIMIT = MB;
const DEPTH = 20_000;
/** The pause in the middle of a slow upload. */
const SLOW_MS = 1_000;

/** A body sent in two halves `pauseMs` apart, holding the request open meanwhile. */
function slowly(body, pauseMs) {
  const half = Math.floor(body.length / 2);
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode(body.slice(0, half)));
      await delay(pauseMs);
      controller.enqueue(new TextEncoder().encode(body.slice(half)));
      controller.close();
    },
  });
}

export const hostile = {
  id: 'hostile',
  tools: [],
  metrics: [
    {
      bench: BENCH,
      metric:
        'daemon peak RSS growth over idle, 10,000 hostile requests (deep, oversized, slow), 50 at a time',
      unit: 'bytes',
      target: { max: 50 * MB },
    },
    {
      bench: BENCH,
      metric: 'daemon peak RSS growth over idle, 2,000 wide 1 MiB bodies of malformed alerts, 50 at a time',
      unit: 'bytes',
    },
  ],
  unavailable: () => emulatedUnavailable(['alerts']),
  async run(ctx) {
    const playground = await startEmulator(['shop']);
    try {
      const hostileFlood = await flood(ctx, playground, 'deep', ctx.quick ? 1_000 : 10_000, hostileKinds);
      const wideFlood = await flood(ctx, playground, 'wide', ctx.quick ? 200 : 2_000, wideKinds);
      return [
        figure({ ...this.metrics[0], ...hostileFlood.figure }),
        figure({ ...this.metrics[1], ...wideFlood.figure }),
      ];
    } finally {
      await playground.stop();
    }
  },
};

/**
 * Starts a daemon watching no service (nothing here may act, and the watch adds no memory of its
 * own), measures its idle RSS, sends `total` requests of `kinds` in turn, `AT_ONCE` at a time, and
 * measures its peak RSS during the flood.
 */
async function flood(ctx, playground, name, total, makeKinds) {
  const daemon = await startDaemon(path.join(ctx.work, `hostile-${name}`), playground, []);
  const statuses = new Map();
  const kinds = makeKinds(daemon.base);
  let idle;
  let peak = 0;
  let highWater = Number.NaN;
  let elapsedMs = 0;
  try {
    // Idle: settled after start, sampled for a few seconds; the median is the idle figure.
    await delay(ctx.quick ? 1_000 : 3_000);
    const idleSamples = [];
    for (let i = 0; i < (ctx.quick ? 10 : 30); i++) {
      idleSamples.push(rssBytes(daemon.pid));
      await delay(100);
    }
    idle = median(idleSamples);
    // VmHWM is reset so that afterwards it holds the peak of the flood alone (Linux >= 4.0).
    const hwmReset = resetHighWater(daemon.pid);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, rssBytes(daemon.pid));
        await delay(20);
      }
    })();
    ctx.log(`hostile ${name}: ${total} requests, ${AT_ONCE} at a time`);
    const startedAt = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: AT_ONCE }, async () => {
        while (next < total) {
          const kind = kinds[next++ % kinds.length];
          const status = await send(kind);
          const key = `${kind.name} ${status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      }),
    );
    elapsedMs = performance.now() - startedAt;
    await delay(200);
    sampling = false;
    await sampler;
    peak = Math.max(peak, rssBytes(daemon.pid));
    if (hwmReset) highWater = highWaterBytes(daemon.pid);
    // Still serving after the flood.
    const health = await fetch(`${daemon.base}/healthz`);
    if (health.status !== 200) throw new Error(`/healthz answered ${health.status} after the flood`);
  } finally {
    daemon.history.close();
    await daemon.stop();
  }
  const top = Number.isFinite(highWater) ? Math.max(peak, highWater) : peak;
  const answered = [...statuses].sort(([a], [b]) => (a < b ? -1 : 1));
  ctx.note(
    BENCH,
    `${name}: ${total} requests in ${format(elapsedMs, 'ms')}, ${AT_ONCE} at a time, to the built daemon (no services, default limits: ` +
      `body 1 MiB, 16 webhook requests at once). Kinds, in turn: ${kinds.map((kind) => kind.what).join('; ')}. ` +
      `Answers (kind status: count): ${answered.map(([key, count]) => `${key}: ${count}`).join(', ')}. ` +
      `Idle RSS ${format(idle, 'bytes')} (median of samples before the flood); peak during the flood ${format(top, 'bytes')} ` +
      `(max of VmRSS sampled every 20 ms, ${format(peak, 'bytes')}, and VmHWM reset before the flood, ${Number.isFinite(highWater) ? format(highWater, 'bytes') : 'n/a'}).`,
  );
  return { figure: { value: top - idle, baseline: idle, baselineName: 'idle RSS, same run', runs: 1 } };
}

/** The issue's hostile requests, sent in turn: deep bodies on every JSON route, oversized, slow, unauthenticated. */
function hostileKinds(base) {
  const bearer = `Bearer ${TOKEN}`;
  const deepArrays = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
  const deepObjects = `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`;
  const am = `${base}/v1/alerts/alertmanager`;
  return [
    {
      name: 'am-deep',
      what: `Alertmanager, token, arrays ${DEPTH} deep`,
      url: am,
      auth: bearer,
      body: deepArrays,
    },
    {
      name: 'cm-deep',
      what: `Cloud Monitoring, token, objects ${DEPTH} deep`,
      url: `${base}/v1/alerts/cloud-monitoring`,
      auth: bearer,
      body: deepObjects,
    },
    {
      name: 'backups-deep',
      what: `/v1/backups, token, arrays ${DEPTH} deep`,
      url: `${base}/v1/backups`,
      auth: bearer,
      body: deepArrays,
    },
    {
      name: 'am-oversized',
      what: 'Alertmanager, token, 1 MiB + 1 byte',
      url: am,
      auth: bearer,
      body: 'x'.repeat(BODY_LIMIT + 1),
    },
    {
      name: 'am-slow',
      what: `Alertmanager, token, 64 KiB body 30 deep uploaded in two halves ${SLOW_MS} ms apart (holds its place)`,
      url: am,
      auth: bearer,
      body: `${'[{"a":'.repeat(30)}1${'}]'.repeat(30)}`.padEnd(64 * 1024, ' '),
      pauseMs: SLOW_MS,
    },
    {
      name: 'am-noauth',
      what: `Alertmanager, no token, arrays ${DEPTH} deep`,
      url: am,
      auth: undefined,
      body: deepArrays,
    },
  ];
}

/** Valid JSON just under the body limit with the right envelope: thousands of malformed alerts. */
function wideKinds(base) {
  const alert = '{"status":"firing","labels":{"a":1},"startsAt":"x"}';
  const count = Math.floor((BODY_LIMIT - 200) / (alert.length + 1));
  const body = `{"version":"4","status":"firing","receiver":"r","groupKey":"k","alerts":[${Array.from({ length: count }, () => alert).join(',')}]}`;
  return [
    {
      name: 'am-wide',
      what: `Alertmanager, token, ${format(body.length, 'bytes')} of ${count} malformed alerts`,
      url: `${base}/v1/alerts/alertmanager`,
      auth: `Bearer ${TOKEN}`,
      body,
    },
  ];
}

async function send(kind) {
  try {
    const response = await fetch(kind.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(kind.auth ? { authorization: kind.auth } : {}) },
      body: kind.pauseMs ? slowly(kind.body, kind.pauseMs) : kind.body,
      duplex: 'half',
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    // A refusal answered before the whole body was sent can close the connection under the sender.
    return `error ${error.cause?.code ?? error.code ?? error.message}`;
  }
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

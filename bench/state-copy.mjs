// 11. Shared state copy: the acting watcher's store copied to the Cloud Storage emulator. The size
// of the copy and the time to snapshot and write it for a store of 50 services with a month of
// watch history; the snapshot as runwarden takes it (serialize) against VACUUM INTO a file; and the
// requests per minute one daemon sends under a steady trickle of changes at the default delay.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { DIST } from './lib/runwarden.mjs';
import { median } from './lib/stats.mjs';
import { figure } from './lib/table.mjs';

const BENCH = '11. Shared state copy';
const BUCKET = 'runwarden-bench-cluster';
const SERVICES = 50;
/** A month: 4 deploys per service, each watched 30 min with 15 s polls and 5 rules. */
const WATCHES_PER_SERVICE = 4;
const TICKS_PER_WATCH = 120;
const RULES = ['http_5xx', 'http_503', 'health', 'cpu', 'memory'];
const DELAY_MS = 1_000;

export const stateCopy = {
  id: 'state-copy',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'copy size, 50 services, a month of history', unit: 'bytes' },
    { bench: BENCH, metric: 'snapshot of the decision state, same store', unit: 'ms' },
    { bench: BENCH, metric: 'snapshot + write to the bucket, same store', unit: 'ms' },
    { bench: BENCH, metric: 'state-copy requests per minute, steady trickle of changes', unit: 'count' },
  ],
  async unavailable() {
    for (const file of ['playground/index.js', 'app/state-copy.js', 'store/store.js']) {
      try {
        await import(pathToFileURL(path.join(DIST, file)).href);
      } catch {
        return `dist/${file} missing or broken (run npm run build)`;
      }
    }
    return undefined;
  },
  async run(ctx) {
    const dir = path.join(ctx.work, 'state-copy');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const load = (file) => import(pathToFileURL(path.join(DIST, file)).href);
    const [
      { startPlayground },
      { Store },
      { StateCopier },
      { openGcsObjectStore },
      { createLogger },
      metricsModule,
    ] = await Promise.all([
      load('playground/index.js'),
      load('store/store.js'),
      load('app/state-copy.js'),
      load('storage/gcs-object-store.js'),
      load('telemetry/logger.js'),
      load('telemetry/metrics-state-copy.js'),
    ]);
    const { Registry } = await import('prom-client');
    const playground = await startPlayground(
      { services: [{ name: 'unused' }], buckets: [BUCKET] },
      { storageDir: dir },
    );
    const store = Store.open(path.join(dir, 'state'));
    try {
      fill(store);
      const objects = await openGcsObjectStore({
        bucket: BUCKET,
        prefix: 'runwarden/cluster/',
        apiEndpoint: playground.storage.url,
        projectId: playground.storage.project,
      });
      const metrics = metricsModule.stateCopyMetrics(new Registry());
      let leader = true;
      const copier = new StateCopier({
        store,
        objects,
        leadership: {
          scope: 'watch',
          mayAct: () => leader,
          generation: () => undefined,
          beforeActing: () => () => {},
          onChange: () => () => {},
        },
        delayMs: DELAY_MS,
        holder: 'bench:1',
        stateDir: path.join(dir, 'state'),
        logger: createLogger({ level: 'silent', format: 'json' }),
        metrics,
      });
      await copier.restoreIfNewer(AbortSignal.timeout(30_000));

      const sizes = [];
      const serializeMs = [];
      const sharedMs = [];
      const vacuumMs = [];
      const copyMs = [];
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`state-copy snapshot and copy run ${run + 1}/${ctx.runs}`);
        let started = performance.now();
        const image = store.sharedSnapshot();
        sharedMs.push(performance.now() - started);
        sizes.push(image.length);
        started = performance.now();
        store.snapshot();
        serializeMs.push(performance.now() - started);
        const target = path.join(dir, `vacuum-${run}.db`);
        const reader = new Database(store.file, { readonly: true });
        started = performance.now();
        reader.prepare('VACUUM INTO ?').run(target);
        vacuumMs.push(performance.now() - started);
        reader.close();
        rmSync(target, { force: true });
        store.services.setFrozen('svc-0', run % 2 === 0, 'bench', Date.now());
        started = performance.now();
        if (!(await copier.copyNow(AbortSignal.timeout(60_000)))) throw new Error('the copy was not written');
        copyMs.push(performance.now() - started);
      }

      // A steady trickle: one change every 100 ms, as a busy watcher's ticks make them.
      const windowMs = ctx.quick ? 10_000 : 60_000;
      ctx.log(`state-copy trickle for ${windowMs / 1000} s`);
      const before = (await metrics.copies.get()).values[0]?.value ?? 0;
      const stop = new AbortController();
      const loop = copier.run(stop.signal);
      const startedAt = performance.now();
      let tick = 0;
      while (performance.now() - startedAt < windowMs) {
        tick += 1;
        store.history.add({
          service: `svc-${tick % SERVICES}`,
          at: Date.now(),
          kind: 'watch:failure',
          watchId: null,
          revision: null,
          message: 'bench trickle',
          detail: { tick },
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const elapsed = performance.now() - startedAt;
      // Then polls only, as an idle watcher of 50 services makes them (a poll every 15 s each):
      // their bookkeeping is left out of the copy, so nothing should be sent.
      const trickled = (await metrics.copies.get()).values[0]?.value ?? 0;
      const idleStarted = performance.now();
      let polls = 0;
      while (performance.now() - idleStarted < windowMs / 2) {
        const service = `svc-${polls % SERVICES}`;
        store.services.saveSnapshot(service, store.services.get(service).snapshot, Date.now());
        polls += 1;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const idleCopies = ((await metrics.copies.get()).values[0]?.value ?? 0) - trickled;
      stop.abort();
      await loop;
      leader = false;
      const copies = trickled - before;
      const failures = (await metrics.failures.get()).values.reduce((sum, entry) => sum + entry.value, 0);
      const perMinute = (copies * 60_000) / elapsed;
      const vacuumFile = statSync(store.file).size;
      ctx.note(
        BENCH,
        `${SERVICES} services, ${WATCHES_PER_SERVICE} watches each of ${TICKS_PER_WATCH} ticks x ${RULES.length} rules (evaluations kept 90 days), store file ${(vacuumFile / 1024 ** 2).toFixed(1)} MiB, the whole store serialized in ${median(serializeMs).toFixed(0)} ms; the copy leaves out rule evaluations (audit, nearly all the bytes); the emulator runs in this process. Trickle: a change every 100 ms for ${Math.round(elapsed / 1000)} s at state_copy_delay ${DELAY_MS} ms: ${copies} copies (one write request each, no reads), ${failures} failures. Polls alone (${polls} in ${Math.round(windowMs / 2000)} s, nothing new): ${idleCopies} copies.`,
      );
      return [
        figure({
          ...this.metrics[0],
          value: median(sizes),
          baseline: vacuumFile,
          baselineName: 'the store file',
          runs: ctx.runs,
        }),
        figure({
          ...this.metrics[1],
          value: median(sharedMs),
          baseline: median(vacuumMs),
          baselineName: 'VACUUM INTO a file',
          runs: ctx.runs,
        }),
        figure({
          ...this.metrics[2],
          value: median(copyMs),
          baseline: median(sharedMs),
          baselineName: 'the snapshot alone',
          runs: ctx.runs,
        }),
        figure({
          ...this.metrics[3],
          value: perMinute,
          baseline: 60_000 / DELAY_MS,
          baselineName: 'one per state_copy_delay',
          runs: 1,
        }),
      ];
    } finally {
      store.close();
      await playground.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** The state of 50 watched services after a month: known-good lists, watches, their evaluations and history. */
function fill(store) {
  const now = Date.now();
  store.transaction(() => {
    for (let s = 0; s < SERVICES; s++) {
      const service = `svc-${s}`;
      store.services.setStable(service, `${service}-00001`, 'baseline', now);
      store.services.saveSnapshot(
        service,
        { latestReady: `${service}-00001`, serving: { [`${service}-00001`]: 100 } },
        now,
      );
      store.knownGood.append(service, `${service}-00001`, 'baseline', now);
      for (let w = 0; w < WATCHES_PER_SERVICE; w++) {
        const candidate = `${service}-0000${w + 2}`;
        const started = now - (WATCHES_PER_SERVICE - w) * 7 * 86_400_000;
        const watch = store.watches.create({
          service,
          candidate,
          stable: `${service}-00001`,
          startedAt: started,
          deadline: started + 1_800_000,
          dryRun: false,
        });
        for (let t = 0; t < TICKS_PER_WATCH; t++) {
          const at = started + t * 15_000;
          store.evaluations.add(
            { watchId: watch.id, phase: 'watch', revision: candidate },
            service,
            at,
            RULES.map((rule) => evaluation(rule, at)),
            () => 'none',
          );
        }
        store.watches.end(watch.id, 'promoted', 'watch window passed clean', started + 1_800_000);
        store.services.setStable(service, candidate, 'promoted', started + 1_800_000);
        store.knownGood.append(service, candidate, 'promoted', started + 1_800_000);
        for (const kind of ['watch:started', 'watch:promoted'])
          store.history.add({
            service,
            at: started,
            kind,
            watchId: watch.id,
            revision: candidate,
            message: kind,
            detail: { candidate },
          });
      }
    }
  });
}

function evaluation(rule, at) {
  return {
    rule,
    signal: rule === 'health' ? 'health' : rule.startsWith('http') ? 'requests' : rule,
    action: rule === 'cpu' || rule === 'memory' ? 'alert' : 'rollback',
    window: rule === 'health' ? null : { start: at - 300_000, end: at - 60_000 },
    query: `metric.type="run.googleapis.com/request_count" resource.labels.revision_name="x" ${rule}`,
    raw: {
      points: [
        { at, value: 0 },
        { at: at - 60_000, value: 1 },
      ],
    },
    value: 0,
    threshold: 5,
    verdict: 'healthy',
    detail: `${rule}: 0 in the window (threshold 5)`,
  };
}

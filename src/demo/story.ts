import type { RunningDaemon } from '../app/daemon-context.js';
import type { Playground, ServedTraffic } from '../playground/index.js';
import type { RestorePointReport } from '../core/restore-point.js';
import type { RollbackCompletedEvent } from '../events/watch-events.js';
import { formatBytes } from '../util/format-bytes.js';
import { formatSeconds, type Narrator } from './narrator.js';
import { startSimulatedUsers, type SimulatedUsers } from './simulated-users.js';
import { pollUntil, StepMissedError, type StoryEvents } from './story-events.js';

/** What the story works with; built by runDemo. */
export interface StoryContext {
  playground: Playground;
  daemon: RunningDaemon;
  events: StoryEvents;
  narrator: Narrator;
  /** The emulated service's name (also its runwarden name). */
  service: string;
  /** The watch window, ms: how long a good deploy takes to be promoted. */
  watchWindowMs: number;
  signal: AbortSignal;
}

/** What the story saw, for the summary and the "where next" hints. */
export interface StoryResult {
  users: SimulatedUsers;
  rollback: RollbackCompletedEvent;
  restorePoint: { file: string; report: RestorePointReport };
}

export const STEP_TITLES = [
  'A backup, verified and copied off-site',
  'A good deploy, watched and promoted',
  'A bad deploy (HTTP 5xx), detected and rolled back',
  'The restore point named for that rollback',
  'Blue-green: a tagged revision tested at its own URL, then promoted in steps',
  'Where to look next',
] as const;

const USERS_RPS = 20;

/**
 * Steps 1 to 5 of the demo, each waiting on the daemon's events (or on what the emulator served)
 * with a deadline; a step that does not happen rejects with StepMissedError naming it. The
 * simulated users keep running afterwards (the caller stops them).
 */
export async function tellStory(ctx: StoryContext): Promise<StoryResult> {
  await backupStep(ctx);
  // Users first: the first revision is watched like a deploy before it is trusted, on their requests.
  const users = startSimulatedUsers(ctx.playground, ctx.service, USERS_RPS);
  try {
    ctx.narrator.event(
      `simulated users: ${USERS_RPS} requests/s to ${ctx.playground.serviceUrl(ctx.service)}`,
    );
    const stable = await baseline(ctx);
    const good = await goodDeployStep(ctx, stable);
    const rollback = await badDeployStep(ctx, good);
    const restorePoint = await restorePointStep(ctx, rollback);
    await blueGreenStep(ctx, good);
    return { users, rollback, restorePoint };
  } catch (error) {
    await users.stop();
    throw error;
  }
}

async function backupStep(ctx: StoryContext): Promise<void> {
  const { narrator, events } = ctx;
  narrator.step(1, STEP_TITLES[0]);
  const backup = await events.wait('backup:completed', {
    timeoutMs: 30_000,
    step: 1,
    missing: 'no verified backup within 30 s (the schedule runs every 10 s); see daemon.log',
    signal: ctx.signal,
  });
  narrator.event(`backup verified: ${narrator.path(backup.file)}`);
  narrator.detail(
    `${formatBytes(backup.size)}, ${backup.entries} entries (databases, media and a manifest), sha256 ${backup.sha256.slice(0, 12)}...`,
  );
  narrator.detail('written as .zip.partial, read back and checked, then renamed into place and cataloged');
  const copy = await events.wait('offsite:copied', {
    match: (event) => event.file === backup.file,
    timeoutMs: 30_000,
    step: 1,
    missing: 'the archive was not copied to the emulated bucket within 30 s; see daemon.log',
    signal: ctx.signal,
  });
  narrator.event(`copied off-site: ${copy.objectName} (generation ${copy.generation})`);
  narrator.detail(
    "uploaded without overwriting anything, then confirmed: the object's size and CRC32C read back from the bucket match the file",
  );
}

/** The first revision the daemon saw, known good once it passed its watch (first sight proves nothing). */
async function baseline(ctx: StoryContext): Promise<string> {
  const repo = ctx.daemon.context.store.services;
  const stable = await pollUntil(() => repo.get(ctx.service)?.stableRevision ?? undefined, {
    timeoutMs: ctx.watchWindowMs + 30_000,
    step: 2,
    missing: `the daemon never took the first revision of ${ctx.service} as known good after watching it; see daemon.log`,
    signal: ctx.signal,
  });
  ctx.narrator.step(2, STEP_TITLES[1]);
  ctx.narrator.event(
    `the daemon watches ${ctx.service}: ${stable} served all traffic when first seen; it was watched like a deploy and is known good now that it passed`,
  );
  return stable;
}

async function goodDeployStep(ctx: StoryContext, stable: string): Promise<string> {
  const { narrator, events, playground, service } = ctx;
  const from = events.mark();
  const revision = await playground.deploy(service, { behaviour: 'healthy' });
  narrator.event(`deployed ${revision} (healthy); like \`gcloud run deploy\`, it takes all the traffic`);
  const started = await events.wait('watch:started', {
    match: (event) => event.candidate === revision,
    from,
    timeoutMs: 15_000,
    step: 2,
    missing: `the daemon did not start watching ${revision} within 15 s`,
    signal: ctx.signal,
  });
  narrator.event(
    `watching ${revision} for ${formatSeconds(started.deadline - started.at)} (known good: ${started.stable ?? stable}): /health probes and request metrics`,
  );
  const promoted = await events.wait('watch:promoted', {
    match: (event) => event.candidate === revision,
    from,
    timeoutMs: ctx.watchWindowMs + 30_000,
    step: 2,
    missing: `${revision} was not promoted; ${instead(ctx, revision, from)}`,
    signal: ctx.signal,
  });
  narrator.event(`promoted ${revision}: ${promoted.reason}; it is now the known good revision`);
  narrator.detail(`its users got: ${served(ctx, revision)}`);
  return revision;
}

async function badDeployStep(ctx: StoryContext, good: string): Promise<RollbackCompletedEvent> {
  const { narrator, events, playground, service } = ctx;
  narrator.step(3, STEP_TITLES[2]);
  const from = events.mark();
  const revision = await playground.deploy(service, { behaviour: 'errors' });
  narrator.event(`deployed ${revision}: it answers half of its requests with HTTP 500`);
  // What users really got, from the emulator itself: the first 5xx it served and the moment its
  // traffic went back. Polled every 10 ms, so both times are exact to about 10 ms.
  const firstError = pollUntil(() => (fiveXx(ctx, revision) > 0 ? Date.now() : undefined), {
    timeoutMs: 20_000,
    everyMs: 10,
    step: 3,
    missing: `users got no HTTP 5xx from ${revision} within 20 s`,
    signal: ctx.signal,
  });
  const restored = pollUntil(() => (allOn(playground.traffic(service), good) ? Date.now() : undefined), {
    timeoutMs: 45_000,
    everyMs: 10,
    step: 3,
    missing: `the emulated Cloud Run never sent all traffic back to ${good} within 45 s; ${instead(ctx, revision, from)}`,
    signal: ctx.signal,
  });
  // Keep both polls from rejecting unobserved if an earlier await throws.
  firstError.catch(() => undefined);
  restored.catch(() => undefined);
  const firstErrorAt = await firstError;
  narrator.event('a user got the first HTTP 500 from it');
  const started = await events.wait('rollback:started', {
    match: (event) => event.from.includes(revision),
    from,
    timeoutMs: 30_000,
    step: 3,
    missing: `the daemon did not roll back ${revision} within 30 s; ${instead(ctx, revision, from)}`,
    signal: ctx.signal,
  });
  narrator.event(`rule tripped: ${started.reason}`);
  narrator.detail(`traffic goes back to ${started.to} (Cloud Run UpdateService, with the service's etag)`);
  const completed = await events.wait('rollback:completed', {
    match: (event) => event.from.includes(revision),
    from,
    timeoutMs: 30_000,
    step: 3,
    missing: `the rollback of ${revision} did not complete; ${instead(ctx, revision, from)}`,
    signal: ctx.signal,
  });
  const probe = completed.probe
    ? `, /health answered ${completed.probe.status ?? completed.probe.error}`
    : '';
  narrator.event(
    `rolled back to ${completed.to}: ${completed.confirmed ? 'Cloud Run confirms 100 % of traffic on it' : 'not yet confirmed by Cloud Run'}${probe}`,
  );
  const restoredAt = await restored;
  narrator.detail(
    `time from the first error served to traffic restored: ${formatSeconds(restoredAt - firstErrorAt)} (the rollback itself: ${formatSeconds(completed.durationMs)} from the rule trip to Cloud Run confirming)`,
  );
  narrator.detail(`users of ${revision} got: ${served(ctx, revision)}`);
  return completed;
}

async function restorePointStep(
  ctx: StoryContext,
  rollback: RollbackCompletedEvent,
): Promise<StoryResult['restorePoint']> {
  const { narrator } = ctx;
  narrator.step(4, STEP_TITLES[3]);
  let report = rollback.restorePoint;
  const watchId = rollback.watchId;
  if (report.backup === null && report.source === 'watch_start' && watchId !== null) {
    // The watch's own backup (started when the deploy was detected) may finish after the rollback;
    // the store then records it as that watch's restore point.
    const watches = ctx.daemon.context.store.watches;
    const point = await pollUntil(
      () => {
        const stored = watches.get(watchId)?.restorePoint;
        return stored?.backup ? stored : undefined;
      },
      {
        timeoutMs: 30_000,
        everyMs: 50,
        step: 4,
        missing: `the rollback named no restore point and its backup did not finish: ${report.note ?? ''}`,
        signal: ctx.signal,
      },
    );
    report = { ...report, ...point };
  }
  const file = report.backup;
  if (file === null)
    throw new StepMissedError(4, `the rollback named no restore point: ${report.note ?? 'no backup known'}`);
  narrator.event(`restore point: ${narrator.path(file)}`);
  narrator.detail(report.note ?? describeSource(report));
  narrator.detail(report.schemaChanged === null ? report.schemaDetail : `since then: ${report.schemaDetail}`);
  return { file, report };
}

/**
 * The guide's flow: `gcloud run deploy --no-traffic --tag green`; the daemon probes and smoke checks
 * the revision at its tag URL, then gives it 50 % and 100 % of the traffic, comparing it with the
 * stable revision at the first step, and promotes it.
 */
async function blueGreenStep(ctx: StoryContext, stable: string): Promise<void> {
  const { narrator, events, playground, service } = ctx;
  narrator.step(5, STEP_TITLES[4]);
  const from = events.mark();
  const revision = await playground.deploy(service, { behaviour: 'healthy', noTraffic: true, tag: 'green' });
  narrator.event(
    `deployed ${revision} with no traffic and the tag green, like \`gcloud run deploy --no-traffic --tag green\``,
  );
  const tested = await events.wait('watch:candidate', {
    match: (event) => event.candidate === revision,
    from,
    timeoutMs: ctx.watchWindowMs + 30_000,
    step: 5,
    missing: `${revision} got no verdict at its tag URL; ${instead(ctx, revision, from)}`,
    signal: ctx.signal,
  });
  if (tested.verdict !== 'passed')
    throw new StepMissedError(5, `${revision} did not pass its tests: ${tested.detail}`);
  narrator.event(`tested at ${playground.tagUrl(service, 'green') ?? 'its tag URL'}: ${tested.detail}`);
  for (const percent of [50, 100]) {
    const step = await events.wait('watch:step', {
      match: (event) => event.candidate === revision && event.percent === percent,
      from,
      timeoutMs: 60_000,
      step: 5,
      missing: `${revision} never got ${percent} % of the traffic; ${instead(ctx, revision, from)}`,
      signal: ctx.signal,
    });
    narrator.event(
      `step ${step.step} of ${step.steps}: ${percent} % of traffic on ${revision}${percent < 100 ? `, the rest on ${stable}; its 5xx ratio is compared with ${stable}'s` : ''}`,
    );
  }
  const promoted = await events.wait('watch:promoted', {
    match: (event) => event.candidate === revision,
    from,
    timeoutMs: 60_000,
    step: 5,
    missing: `${revision} was not promoted after its last step; ${instead(ctx, revision, from)}`,
    signal: ctx.signal,
  });
  narrator.event(`promoted ${revision}: ${promoted.reason}`);
  narrator.detail(`its users got: ${served(ctx, revision)}`);
}

function describeSource(report: RestorePointReport): string {
  switch (report.source) {
    case 'predeploy':
      return 'taken by `runwarden predeploy` before the deploy';
    case 'watch_start':
      return 'taken when the deploy was detected';
    case 'bucket':
      return "the bucket's newest archive when the deploy was detected";
    case 'none':
      return 'no backup';
  }
}

/** What else happened to `revision` since `from`: for failure messages. */
function instead(ctx: StoryContext, revision: string, from: number): string {
  const about = (event: { candidate: string | null }) => event.candidate === revision;
  const seen = [
    ...ctx.events
      .all('watch:ended', about, from)
      .map((event) => `watch ended ${event.status}: ${event.reason}`),
    ...ctx.events.all('rollback:refused', about, from).map((event) => `rollback refused: ${event.reason}`),
    ...ctx.events
      .all('rollback:failed', about, from)
      .map((event) => `rollback failed: ${event.error.message}`),
    ...ctx.events
      .all('watch:failure', () => true, from)
      .map((event) => `${event.operation} failed: ${event.reason}`),
  ];
  return seen.length > 0 ? `the daemon reported: ${seen.join('; ')}` : 'see daemon.log';
}

function fiveXx(ctx: StoryContext, revision: string): number {
  return ctx.playground
    .servedRequests({ service: ctx.service, revision })
    .filter((count) => count.code >= 500)
    .reduce((sum, count) => sum + count.count, 0);
}

function served(ctx: StoryContext, revision: string): string {
  const counts = ctx.playground.servedRequests({ service: ctx.service, revision });
  if (counts.length === 0) return 'no requests';
  return counts.map((count) => `${count.count} x HTTP ${count.code}`).join(', ');
}

function allOn(traffic: readonly ServedTraffic[], revision: string): boolean {
  return traffic.some((target) => target.revision === revision && target.percent === 100);
}

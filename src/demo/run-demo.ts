import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import { parseDuration } from '../core/duration.js';
import { startDaemon } from '../app/daemon.js';
import type { RunningDaemon } from '../app/daemon-context.js';
import { errorMessage } from '../core/errors.js';
import { type Playground, startPlayground } from '../playground/index.js';
import { createLogger } from '../telemetry/logger.js';
import { DEMO_APP_DIR, DEMO_BUCKET, DEMO_WATCH_WINDOW, writeDemoConfig } from './demo-config.js';
import { prepareDemoDir } from './demo-dir.js';
import { narrateLive } from './live-narration.js';
import { Narrator } from './narrator.js';
import { writeSampleData } from './sample-data.js';
import { STEP_TITLES, tellStory } from './story.js';
import { StepMissedError, StoryEvents } from './story-events.js';
import { exploreHints, whereNextStep } from './where-next.js';

export interface DemoOptions {
  /** The demo folder; wiped and recreated (see prepareDemoDir). */
  dir: string;
  /** Tell the story and stop; otherwise keep running until `stop` aborts. */
  once: boolean;
  /** How a person runs the CLI here, for the hints ("runwarden" or "node dist/cli/main.js"). */
  cli: string;
  /** Aborted on Ctrl-C / SIGTERM: ends the story early, or the exploring that follows it. */
  stop: AbortSignal;
  out?: NodeJS.WritableStream;
}

/** How the demo ended: every step happened, or the first one that did not (and why). */
export type DemoOutcome =
  | { ok: true }
  | { ok: false; step: number; title: string; reason: string; interrupted: boolean };

const SERVICE = 'shop';
const EVENTS = [
  'backup:completed',
  'offsite:copied',
  'watch:started',
  'watch:promoted',
  'watch:ended',
  'watch:candidate',
  'watch:step',
  'watch:failure',
  'rollback:started',
  'rollback:completed',
  'rollback:failed',
  'rollback:refused',
] as const;

/**
 * The one-command demo: sample app data, the Cloud Run + Monitoring emulator with one healthy
 * service, the real daemon in this process on a generated config, then the story told from the
 * daemon's events. Everything it started is stopped before it resolves; it never throws for a
 * missed step (the outcome says which), only for bad input (UsageError) or a failure to start.
 */
export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const narrator = new Narrator(options.out);
  const dir = path.resolve(options.dir);
  prepareDemoDir(dir);
  const sample = writeSampleData(path.join(dir, DEMO_APP_DIR));
  narrator.say('runwarden demo: backups and deploy watching on this machine, no Google account needed');
  narrator.say(
    `  app data: ${narrator.path(sample.dataDir)} (db.sqlite3, ${sample.tenants.length} tenant databases, ${sample.mediaFiles} media files)`,
  );
  const closers: Array<() => Promise<void>> = [];
  try {
    const playground = await startPlayground(
      {
        project: 'demo-project',
        region: 'europe-west1',
        services: [{ name: SERVICE, revisions: [{ behaviour: 'healthy' }] }],
        buckets: [DEMO_BUCKET],
      },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    closers.unshift(() => playground.stop());
    const configFile = writeDemoConfig(dir, {
      endpoint: `${playground.endpoint.host}:${playground.endpoint.port}`,
      project: playground.project,
      region: playground.region,
      service: SERVICE,
      storageUrl: playground.storage.url,
    });
    const { config } = loadConfig({ path: configFile });
    const daemonLog = path.join(dir, 'daemon.log');
    const logger = createLogger({
      level: config.log.level,
      format: 'json',
      destination: pino.destination({ dest: daemonLog, sync: true }),
    });
    const daemon = await startDaemon(config, logger);
    closers.unshift(async () => void (await daemon.stop('demo finished')));
    const events = new StoryEvents(daemon.context.events, EVENTS);
    closers.unshift(async () => events.close());
    const quiet = narrateLive(daemon.context.events, narrator, 'problems');
    closers.unshift(async () => quiet());
    narrator.say(
      `  emulated Cloud Run: service ${SERVICE} at ${playground.serviceUrl(SERVICE)}, serving ${playground.revisions(SERVICE)[0]?.name} (healthy)`,
    );
    narrator.say(`  daemon: config ${narrator.path(configFile)}, log ${narrator.path(daemonLog)}`);
    narrator.say();
    const story = await tellStory({
      playground,
      daemon,
      events,
      narrator,
      service: SERVICE,
      watchWindowMs: parseDuration(DEMO_WATCH_WINDOW) as number,
      signal: options.stop,
    });
    closers.unshift(() => story.users.stop());
    narrator.step(6, STEP_TITLES[5]);
    await whereNextStep({
      narrator,
      address: daemon.address,
      configFile,
      daemonLog,
      cli: options.cli,
      signal: options.stop,
    });
    narrator.say();
    if (options.once) {
      narrator.say('demo complete: all 6 steps happened');
      return { ok: true };
    }
    await explore(narrator, playground, daemon, options.stop);
    return { ok: true };
  } catch (error) {
    return missed(narrator, error, options.stop);
  } finally {
    for (const close of closers) {
      await close().catch((error: unknown) => narrator.say(`(while stopping: ${errorMessage(error)})`));
    }
  }
}

async function explore(
  narrator: Narrator,
  playground: Playground,
  daemon: RunningDaemon,
  stop: AbortSignal,
): Promise<void> {
  exploreHints(narrator, playground.controlUrl, SERVICE, `http://${daemon.address}/metrics`);
  const off = narrateLive(daemon.context.events, narrator, 'all');
  try {
    await new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      stop.addEventListener('abort', () => resolve(), { once: true });
    });
    narrator.say();
    narrator.say('stopping: simulated users, the daemon (graceful drain), the emulator');
  } finally {
    off();
  }
}

function missed(narrator: Narrator, error: unknown, stop: AbortSignal): DemoOutcome {
  if (error instanceof StepMissedError) {
    const title = STEP_TITLES[error.step - 1] ?? `step ${error.step}`;
    narrator.say();
    narrator.say(`demo failed: step ${error.step} (${title}) did not happen: ${error.message}`);
    return { ok: false, step: error.step, title, reason: error.message, interrupted: false };
  }
  if (stop.aborted) {
    narrator.say();
    narrator.say('demo interrupted before the story was told');
    return { ok: false, step: 0, title: 'interrupted', reason: 'interrupted', interrupted: true };
  }
  throw error;
}

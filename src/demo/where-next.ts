import type { Narrator } from './narrator.js';
import { StepMissedError } from './story-events.js';

export interface WhereNextOptions {
  narrator: Narrator;
  /** The daemon's HTTP server, "host:port". */
  address: string;
  configFile: string;
  daemonLog: string;
  /** How a person runs the CLI here: "runwarden", or "node dist/cli/main.js" in a clone. */
  cli: string;
  /** Metrics shown as a taste of /metrics (name prefixes). */
  highlights?: readonly string[];
  signal: AbortSignal;
}

const HIGHLIGHTS = [
  'runwarden_backup_last_size_bytes',
  'runwarden_promotions_total',
  'runwarden_rollbacks_total',
  'runwarden_backup_runs_total',
];

/**
 * Step 5: reads the daemon's own /metrics (the step fails if it does not answer) and prints a few
 * of its lines, then the commands that show the state and history of what just happened.
 */
export async function whereNextStep(options: WhereNextOptions): Promise<void> {
  const { narrator, cli } = options;
  const url = `http://${options.address}/metrics`;
  let text: string;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(5_000)]),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (error) {
    throw new StepMissedError(5, `the daemon's ${url} did not answer: ${(error as Error).message}`);
  }
  const wanted = options.highlights ?? HIGHLIGHTS;
  const lines = text
    .split('\n')
    .filter((line) => !line.startsWith('#') && wanted.some((name) => line.startsWith(name)));
  narrator.event(`Prometheus metrics: ${url}`);
  for (const line of lines) narrator.detail(line);
  const config = narrator.path(options.configFile);
  narrator.event('what runwarden knows now, from its state store:');
  narrator.detail(`${cli} status --config ${config}`);
  narrator.detail(`${cli} history --config ${config}`);
  narrator.detail(`${cli} backups list --config ${config}`);
  narrator.event(`the daemon's own log (JSON lines): ${narrator.path(options.daemonLog)}`);
}

/** Hints for a person exploring the running demo (without --once). */
export function exploreHints(
  narrator: Narrator,
  controlUrl: string,
  service: string,
  metricsUrl: string,
): void {
  const deploy = (behaviour: string) =>
    `curl -s -X POST ${controlUrl}/deploy -H 'content-type: application/json' -d '{"service":"${service}","behaviour":"${behaviour}"}'`;
  narrator.say();
  narrator.say(
    'The demo keeps running (daemon, emulated Cloud Run, simulated users). Try, in another terminal:',
  );
  narrator.say(`  a bad deploy (HTTP 500s):    ${deploy('errors')}`);
  narrator.say(`  a failing /health:           ${deploy('failing-health')}`);
  narrator.say(`  a good deploy:               ${deploy('healthy')}`);
  narrator.say(`  the emulator's state:        curl -s ${controlUrl}/state`);
  narrator.say(`  the daemon's metrics:        curl -s ${metricsUrl}`);
  narrator.say('What the daemon does about it is printed below as it happens. Ctrl-C stops everything.');
}

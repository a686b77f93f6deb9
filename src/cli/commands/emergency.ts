import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { App } from '../../app/app.js';
import { locateArchive } from '../../app/remote-archives.js';
import { errorMessage, ExitCode, UsageError } from '../../core/errors.js';
import { incidentMarkdown } from '../../core/incident-markdown.js';
import { buildIncidentReport } from '../../core/incident-report.js';
import { TENANT_ID_PATTERN } from '../../archive/manifest.js';
import type { RestoreSelection } from '../../restore/restore-targets.js';
import { resolveTarget } from '../../restore/restore-targets.js';
import {
  type EmergencyOverview,
  emergencyOverview,
  probeUntilHealthy,
} from '../../watch/emergency-overview.js';
import { loadIncidents } from '../../watch/incident-load.js';
import type { IdentifiedProbe } from '../../watch/probe-identity.js';
import { requestRollback } from '../../watch/rollback.js';
import type { RollbackOutcome } from '../../watch/rollback-request.js';
import type { WatchRuntime } from '../../watch/watch-runtime.js';
import { findService, type WatchedService } from '../../watch/watched-service.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { backupLines, overviewLines, probeLine, rollbackLine } from '../emergency-text.js';
import { abortOnStopSignals } from '../interrupt.js';
import { printFailedResult, printResult } from '../output.js';
import { describeRestoreAll, restoreAllFrom } from '../restore-all-command.js';
import { withApp } from '../with-app.js';
import { describeRestore, restoreOneFrom } from './restore.js';

interface EmergencyOptions extends GlobalOptions {
  service?: string;
  yes?: boolean;
  /** true with --rollback, false with --no-rollback, undefined: asked (or, with --yes, done). */
  rollback?: boolean;
  restore?: string;
}

/** What to restore from the restore point. */
type RestoreScope = { kind: 'none' } | { kind: 'all' } | { kind: 'one'; selection: RestoreSelection };

/** How long the service's /health is probed after a rollback before it is called unhealthy. */
const HEALTH_DEADLINE_MS = 120_000;

export function registerEmergency(program: Command): void {
  withJsonOption(withConfigOption(program.command('emergency')))
    .description(
      'the 3 a.m. procedure: shows each service (serving, known good, errors, restore point and schema drift), ' +
        'proposes the traffic rollback and probes /health after it, offers a restore from the restore point when the ' +
        'schema changed, and writes the incident report. Asks on a terminal; without one, --yes is required to act.',
    )
    .option('-s, --service <name>', 'only this service (by its name in the config)')
    .option(
      '-y, --yes',
      'act without asking: roll back (unless --no-rollback), restore only what --restore names',
    )
    .option('--rollback', 'roll back (the answer to the first question)')
    .option('--no-rollback', 'do not roll back')
    .option(
      '--restore <scope>',
      'restore from the restore point: all, main, tenant:ID, media or none (the answer to the second question)',
    )
    .action(async (options: EmergencyOptions) => {
      // Usage errors first (exit 2), before anything is read or changed.
      const scope = options.restore === undefined ? undefined : parseScope(options.restore);
      const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
      const asJson = options.json === true;
      // Under --json stdout holds only the final document; the running story goes to stderr.
      const out = asJson ? process.stderr : process.stdout;
      const say = (line: string) => out.write(`${line}\n`);
      const result = await withApp(options, 'write', async (app, loaded) => {
        const rt = await app.watch();
        await app.notifier(); // the rollback is announced like the daemon's own
        const interrupt = abortOnStopSignals('the emergency');
        const prompt = interactive ? linePrompt(out, interrupt.signal) : null;
        try {
          return await emergency(app, rt, {
            options,
            scope,
            prompt,
            say,
            preBackup: loaded.source !== undefined,
            signal: interrupt.signal,
          });
        } finally {
          prompt?.close();
          interrupt.dispose();
        }
      });
      const human = (data: EmergencyResult) => summary(data).join('\n');
      if (result.refused !== null) {
        printFailedResult(result, { code: 'RW_USAGE', message: result.refused }, asJson, human);
        process.exitCode = ExitCode.usage;
      } else if (!result.ok) {
        const message = 'a step did not succeed (see rollbacks and restore)';
        printFailedResult(result, { code: 'RW_EMERGENCY_INCOMPLETE', message }, asJson, human);
      } else printResult(result, asJson, human);
    });
}

interface EmergencyResult {
  ok: boolean;
  /** Not acted on: no terminal to ask on and no --yes. */
  refused: string | null;
  services: Array<Omit<EmergencyOverview, 'observation'>>;
  newest_backups: Array<{ file: string; status: string; reason: string; started_at: string }>;
  rollbacks: Array<{
    service: string;
    outcome: RollbackOutcome | null;
    error: string | null;
    health: { healthy: boolean; reason: string | null; probes: IdentifiedProbe[] } | null;
  }>;
  restore: { scope: string; backup: string; outcome: unknown; error: string | null } | null;
  report: { path: string; command: string } | null;
}

async function emergency(
  app: App,
  rt: WatchRuntime,
  run: {
    options: EmergencyOptions;
    scope: RestoreScope | undefined;
    prompt: LinePrompt | null;
    say: (line: string) => void;
    preBackup: boolean;
    signal: AbortSignal;
  },
): Promise<EmergencyResult> {
  const { options, prompt, say, signal } = run;
  const services = options.service ? [findService(rt.services, options.service)] : [...rt.services];
  if (services.length === 0) throw new UsageError('no services are configured (services: in the config)');
  // 1. What is going on.
  const overviews: EmergencyOverview[] = [];
  for (const service of services) {
    const overview = await emergencyOverview(rt, service, signal);
    overviews.push(overview);
    for (const line of overviewLines(overview)) say(line);
  }
  const backups = app.store.backups.list().slice(0, 3);
  for (const line of backupLines(backups)) say(line);
  const result: EmergencyResult = {
    ok: true,
    refused: null,
    services: overviews.map(({ observation: _observation, ...rest }) => rest),
    newest_backups: backups.map((backup) => ({
      file: backup.file,
      status: backup.status,
      reason: backup.reason,
      started_at: backup.startedAt,
    })),
    rollbacks: [],
    restore: null,
    report: null,
  };
  if (prompt === null && options.yes !== true) {
    result.refused =
      'not acting: no terminal to ask on; run it in a terminal, or pass --yes (with --rollback/--no-rollback and --restore SCOPE)';
    say(result.refused);
    return result;
  }
  // 2. The traffic rollback, then /health until healthy.
  let reportId: number | null = null;
  for (const [index, service] of services.entries()) {
    const overview = overviews[index] as EmergencyOverview;
    if (!overview.rollbackNeeded) {
      say(`${service.key}: ${rollbackSkipped(overview)}`);
      continue;
    }
    const serving = overview.serving.ok
      ? overview.serving.value.map((entry) => entry.revision).join(', ')
      : '?';
    const question = `Roll ${service.key} back: all traffic from ${serving} to ${overview.stable}? [y/N] `;
    const yes =
      options.rollback ?? (options.yes === true ? true : await (prompt as LinePrompt).confirm(question));
    if (!yes) {
      say(`${service.key}: not rolled back (declined)`);
      continue;
    }
    const done = await rollBack(rt, service, overview, say, signal);
    result.rollbacks.push(done.entry);
    if (done.entry.error !== null || done.entry.health?.healthy === false) result.ok = false;
    if (done.entry.outcome?.kind === 'refused') result.ok = false;
    reportId ??= done.historyId;
  }
  // 3. The data, when the schema changed since the restore point.
  const restoring = await chooseRestore(app, overviews, run);
  if (restoring) {
    result.restore = await restore(app, restoring.backup, restoring.scope, run);
    if (result.restore.error !== null) result.ok = false;
  }
  // 4. What happened, and the incident report: of this rollback, else of the newest one (the daemon's).
  reportId ??= newestRollback(app, services);
  if (reportId !== null) result.report = writeReport(app, rt, reportId, say);
  return result;
}

/** The history id of the newest rollback that changed traffic of one of `services`, or null. */
function newestRollback(app: App, services: readonly WatchedService[]): number | null {
  const entries = services.flatMap((service) =>
    app.store.history
      .list({ service: service.key, limit: 500 })
      .filter(
        (entry) =>
          entry.kind === 'rollback:completed' && (entry.detail as { dryRun?: boolean }).dryRun !== true,
      ),
  );
  return entries.sort((a, b) => b.at - a.at || b.id - a.id)[0]?.id ?? null;
}

function rollbackSkipped(overview: EmergencyOverview): string {
  if (!overview.serving.ok)
    return `no rollback proposed: Cloud Run could not be read (${overview.serving.reason})`;
  if (overview.stable === null) return 'no rollback proposed: no known good revision is recorded';
  return `no rollback needed: all traffic already goes to ${overview.stable}`;
}

async function rollBack(
  rt: WatchRuntime,
  service: WatchedService,
  overview: EmergencyOverview,
  say: (line: string) => void,
  signal: AbortSignal,
): Promise<{ entry: EmergencyResult['rollbacks'][number]; historyId: number | null }> {
  let completedAt: number | null = null;
  const stop = rt.events.on('rollback:completed', (event) => {
    if (event.service === service.key && !event.dryRun) completedAt = event.at;
  });
  let outcome: RollbackOutcome;
  try {
    outcome = await requestRollback(
      rt,
      {
        service: service.key,
        trigger: 'emergency',
        reason: 'rolled back by a person (runwarden emergency)',
        decidedAt: rt.clock(),
        known: overview.observation ?? undefined,
      },
      signal,
    );
  } catch (error) {
    signal.throwIfAborted();
    const message = errorMessage(error);
    say(`${service.key}: rollback failed: ${message}`);
    return { entry: { service: service.key, outcome: null, error: message, health: null }, historyId: null };
  } finally {
    stop();
  }
  say(rollbackLine(service.key, outcome));
  const historyId =
    completedAt === null
      ? null
      : (rt.store.history.idOf('rollback:completed', service.key, completedAt) ?? null);
  if (outcome.kind !== 'rolled_back' && outcome.kind !== 'noop')
    return { entry: { service: service.key, outcome, error: null, health: null }, historyId };
  say(
    `${service.key}: probing ${service.config.health_path} until healthy (at most ${HEALTH_DEADLINE_MS / 1000} s)`,
  );
  const health = await probeUntilHealthy(
    rt,
    service,
    HEALTH_DEADLINE_MS,
    (probe) => say(probeLine(service.key, probe)),
    signal,
  );
  say(`${service.key}: ${health.healthy ? 'healthy' : `NOT healthy: ${health.reason}`}`);
  return {
    entry: {
      service: service.key,
      outcome,
      error: null,
      health: { healthy: health.healthy, reason: health.reason ?? null, probes: health.probes },
    },
    historyId,
  };
}

/** The restore point to restore from and what, or null: asked, or taken from --restore. */
async function chooseRestore(
  app: App,
  overviews: readonly EmergencyOverview[],
  run: {
    options: EmergencyOptions;
    scope: RestoreScope | undefined;
    prompt: LinePrompt | null;
    say: (line: string) => void;
  },
): Promise<{ backup: string; scope: RestoreScope } | null> {
  const { scope, prompt, say } = run;
  const withBackup = overviews.filter((overview) => overview.restorePoint.backup !== null);
  const drifted = withBackup.find((overview) => overview.restorePoint.schemaChanged !== false);
  if (scope?.kind === 'none') return null;
  if (scope !== undefined) {
    // Named by the person: done whatever the drift says, from the restore point of the first service that has one.
    const from = drifted ?? withBackup[0];
    if (!from) {
      say('no restore: no restore point is known (no pre-deploy backup was taken)');
      return null;
    }
    return { backup: from.restorePoint.backup as string, scope };
  }
  if (!drifted) {
    say(
      withBackup.length === 0
        ? 'no restore offered: no restore point is known'
        : 'no restore offered: the schema did not change since the restore point (rolling back code alone is enough)',
    );
    return null;
  }
  if (prompt === null || run.options.yes === true) {
    say(
      `not restored: ${drifted.restorePoint.schemaDetail}; pass --restore SCOPE to restore from the restore point`,
    );
    return null;
  }
  const backup = drifted.restorePoint.backup as string;
  say(`${drifted.service}: ${drifted.restorePoint.schemaDetail}`);
  say(`a restore from ${backup} replaces (each kept as a safety copy, after a full pre-restore backup):`);
  for (const line of replacedLines(app)) say(`  ${line}`);
  say('Stop the app first (scale it to zero): an open connection cannot always be detected.');
  for (;;) {
    const answer = (await prompt.ask('Restore from the restore point? [all/main/tenant:ID/media/N] ')).trim();
    if (answer === '' || /^(n|no|none)$/i.test(answer)) {
      say('not restored (declined)');
      return null;
    }
    try {
      const chosen = parseScope(answer.toLowerCase() === 'y' ? 'all' : answer);
      return chosen.kind === 'none' ? null : { backup, scope: chosen };
    } catch (error) {
      say(errorMessage(error));
    }
  }
}

function replacedLines(app: App): string[] {
  const sources = app.config.backup.sources;
  return [
    `main database: ${resolveTarget({ kind: 'db', name: 'main' }, sources).target}`,
    `every tenant in the archive: ${sources.tenants.pattern}`,
    `media: ${resolveTarget({ kind: 'media' }, sources).target} (files the archive lacks are moved aside with the old folder)`,
  ];
}

async function restore(
  app: App,
  backup: string,
  scope: RestoreScope,
  run: { preBackup: boolean; say: (line: string) => void; signal: AbortSignal },
): Promise<NonNullable<EmergencyResult['restore']>> {
  const location = locateArchive(backup, app.config.backup.dir, app.store.backups);
  const label = scopeLabel(scope);
  run.say(`restoring ${label} from ${backup}...`);
  try {
    if (scope.kind === 'all') {
      const outcome = await restoreAllFrom(app, location, {
        tenants: undefined,
        options: { all: true, force: true },
        preBackup: run.preBackup,
        signal: run.signal,
      });
      for (const line of describeRestoreAll(outcome).split('\n')) run.say(line);
      return { scope: label, backup, outcome, error: null };
    }
    if (scope.kind === 'one') {
      const outcome = await restoreOneFrom(app, location, {
        selection: scope.selection,
        options: { force: true },
        preBackup: run.preBackup,
        signal: run.signal,
      });
      for (const line of describeRestore(outcome).split('\n')) run.say(line);
      return { scope: label, backup, outcome, error: null };
    }
  } catch (error) {
    run.signal.throwIfAborted();
    const message = errorMessage(error);
    run.say(`restore failed: ${message}`);
    return { scope: label, backup, outcome: null, error: message };
  }
  return { scope: label, backup, outcome: null, error: null };
}

/** Writes the rollback's incident report under state_dir/reports/; its path and the command that prints it. */
function writeReport(
  app: App,
  rt: WatchRuntime,
  id: number,
  say: (line: string) => void,
): { path: string; command: string } {
  const command = `runwarden report --rollback ${id}`;
  const reports = loadIncidents(app.store, rt.services, { rollback: id }).map(buildIncidentReport);
  const dir = path.join(app.config.state_dir, 'reports');
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const file = path.join(dir, `incident-rollback-${id}.md`);
  writeFileSync(file, incidentMarkdown(reports, { command }), { mode: 0o640 });
  say(`incident report: ${file} (again with: ${command})`);
  return { path: file, command };
}

function summary(result: EmergencyResult): string[] {
  if (result.refused) return [];
  const lines = ['', 'what happened:'];
  if (result.rollbacks.length === 0) lines.push('  no rollback');
  for (const entry of result.rollbacks)
    lines.push(
      `  ${entry.outcome ? rollbackLine(entry.service, entry.outcome) : `${entry.service}: rollback failed: ${entry.error}`}` +
        (entry.health
          ? `; ${entry.health.healthy ? 'healthy' : `NOT healthy (${entry.health.reason})`}`
          : ''),
    );
  if (result.restore === null) lines.push('  no restore');
  else
    lines.push(
      result.restore.error === null
        ? `  restored ${result.restore.scope} from ${result.restore.backup}`
        : `  restore of ${result.restore.scope} failed: ${result.restore.error}`,
    );
  if (result.report)
    lines.push(`  incident report: ${result.report.path}`, `  print it again: ${result.report.command}`);
  return lines;
}

export function parseScope(text: string): RestoreScope {
  const value = text.trim();
  if (value === 'none') return { kind: 'none' };
  if (value === 'all') return { kind: 'all' };
  if (value === 'main') return { kind: 'one', selection: { kind: 'db', name: 'main' } };
  if (value === 'media') return { kind: 'one', selection: { kind: 'media' } };
  if (value.startsWith('tenant:')) {
    const tenant = value.slice('tenant:'.length);
    if (TENANT_ID_PATTERN.test(tenant)) return { kind: 'one', selection: { kind: 'tenant', tenant } };
    throw new UsageError(
      `--restore ${text}: ${JSON.stringify(tenant)} is not a tenant id (letters, digits, ".", "_" and "-")`,
    );
  }
  throw new UsageError(`--restore ${text}: expected all, main, tenant:ID, media or none`);
}

function scopeLabel(scope: RestoreScope): string {
  if (scope.kind !== 'one') return scope.kind;
  const selection = scope.selection;
  return selection.kind === 'db'
    ? 'main'
    : selection.kind === 'media'
      ? 'media'
      : `tenant:${selection.tenant}`;
}

interface LinePrompt {
  ask(question: string): Promise<string>;
  confirm(question: string): Promise<boolean>;
  close(): void;
}

/**
 * Questions on the terminal. Lines are read through one iterator, so an answer typed before its
 * question is shown is kept for it, not lost; end of input answers no.
 */
function linePrompt(output: NodeJS.WritableStream, signal: AbortSignal): LinePrompt {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  // Ctrl-C while a question waits ends the wait (the signal's reason: RW_ABORTED), as it ends any step.
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(signal.reason);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  aborted.catch(() => {});
  const ask = async (question: string) => {
    output.write(question);
    const next = await Promise.race([lines.next(), aborted]);
    return next.done ? '' : String(next.value);
  };
  return {
    ask,
    confirm: async (question) => /^(y|yes)$/i.test((await ask(question)).trim()),
    close: () => rl.close(),
  };
}

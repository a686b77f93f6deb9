import { incidentLinks } from './console-links.js';
import { formatDuration } from './duration.js';
import type {
  IncidentEvaluation,
  IncidentFacts,
  IncidentHistoryEntry,
  IncidentReport,
  IncidentRestorePoint,
  RuleSummary,
  TimelineKind,
} from './incident-types.js';
import { evaluationEntries, iso, type RawEntry } from './incident-evaluations.js';
import type { RestorePoint } from './restore-point.js';

/** Within one millisecond, the order things happen in: a trip comes before the rollback it causes. */
const RANK: Record<TimelineKind, number> = {
  deploy_seen: 0,
  probe: 1,
  evaluation: 1,
  trip: 2,
  alert: 3,
  held: 3,
  failure: 3,
  insufficient_data: 3,
  rollback_sent: 4,
  rollback_confirmed: 5,
  rollback_unconfirmed: 5,
  rollback_failed: 5,
  rollback_refused: 5,
  health_after: 6,
  promoted: 7,
  watch_ended: 8,
  restore: 9,
};

/** How far past the incident's last entry the logs link looks: errors often trail the rollback. */
const LOGS_TAIL_MS = 15 * 60_000;

/**
 * The report of one incident. Pure: the same facts always give the same report (no clock is
 * read), so the text can be pasted in an issue tracker and regenerated identically.
 */
export function buildIncidentReport(facts: IncidentFacts): IncidentReport {
  const { watch } = facts;
  const rollbacks = facts.history.filter((entry) => entry.kind.startsWith('rollback:'));
  const raw = [
    ...watchEntries(facts),
    ...evaluationEntries(datedByDecision(facts.evaluations, rollbacks)),
    ...historyEntries(facts.history),
    ...facts.restores.map(
      (restore): RawEntry => ({
        at: Date.parse(restore.startedAt),
        kind: 'restore',
        text: `restore #${restore.id} of ${restore.kind} ${restore.name} from ${restore.archive}: ${restore.result}${restore.error ? ` (${restore.error})` : ''}`,
      }),
    ),
  ];
  // A stable sort: entries of the same time and rank keep the order they were recorded in.
  const ordered = raw
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => a.entry.at - b.entry.at || RANK[a.entry.kind] - RANK[b.entry.kind] || a.index - b.index)
    .map(({ entry }) => entry);
  const begin = watch?.startedAt ?? ordered[0]?.at ?? 0;
  const end = Math.max(watch?.endedAt ?? 0, ordered.at(-1)?.at ?? begin);
  const lastRollback = rollbacks.at(-1);
  const rollbackDetail = (lastRollback?.detail ?? {}) as RollbackDetail;
  const candidate = watch?.candidate ?? rollbackDetail.from?.[0] ?? null;
  const outcome = watch?.status ?? rollbackOutcome(rollbacks);
  return {
    title: title(facts.service, candidate, outcome, rollbackDetail.to ?? null),
    service: facts.service,
    watchId: watch?.id ?? null,
    rollbackIds: rollbacks.map((entry) => entry.id),
    candidate,
    stable: watch?.stable ?? rollbackDetail.to ?? null,
    outcome,
    startedAt: ordered.length > 0 || watch ? iso(begin) : null,
    endedAt: watch?.endedAt != null ? iso(watch.endedAt) : null,
    timeline: ordered.map((entry) => ({
      at: iso(entry.at),
      offset: offset(entry.at - begin),
      kind: entry.kind,
      text: entry.text,
    })),
    rules: ruleSummaries(facts.evaluations),
    restorePoint: restorePointOf(facts, rollbacks),
    links: facts.location ? incidentLinks(facts.location, candidate, begin, end + LOGS_TAIL_MS) : null,
    questions: { cause: '', resolution: '', prevention: '' },
  };
}

interface RollbackDetail {
  trigger?: string;
  from?: string[];
  to?: string | null;
  confirmed?: boolean;
  durationMs?: number;
  probe?: { ok: boolean; status?: number; error?: string } | null;
  error?: { code: string; message: string };
  refusal?: string;
  restorePoint?: (Partial<RestorePoint> & { schemaChanged?: boolean | null; schemaDetail?: string }) | null;
}

/**
 * A tick stores its evaluations once the rollback it decided has returned (nothing is written before
 * UpdateService but the trip), so they are recorded after the rollback. They are dated here by the
 * decision instead: the completed rollback's time minus its duration "from the trip", or else when
 * it was sent. Every evaluation of that tick (one `at`) moves together.
 */
function datedByDecision(
  evaluations: readonly IncidentEvaluation[],
  rollbacks: readonly IncidentHistoryEntry[],
): readonly IncidentEvaluation[] {
  const trip = evaluations.find((entry) => entry.verdict === 'unhealthy' && entry.taken === 'rollback');
  const sent = rollbacks.find((entry) => entry.kind === 'rollback:started');
  if (!trip || !sent || trip.at < sent.at) return evaluations;
  const completed = rollbacks.find((entry) => entry.kind === 'rollback:completed');
  const duration = (completed?.detail as RollbackDetail | undefined)?.durationMs;
  const decided = completed && duration !== undefined ? Math.min(completed.at - duration, sent.at) : sent.at;
  return evaluations.map((entry) => (entry.at === trip.at ? { ...entry, at: decided } : entry));
}

function watchEntries(facts: IncidentFacts): RawEntry[] {
  const watch = facts.watch;
  if (!watch) return [];
  const started = facts.history.find((entry) => entry.kind === 'watch:started');
  const entries: RawEntry[] = [
    {
      at: watch.startedAt,
      kind: 'deploy_seen',
      text: `deploy seen: watching ${watch.candidate} (stable ${watch.stable ?? 'unknown'}) until ${iso(watch.deadline)}${watch.dryRun ? ' [dry-run]' : ''}${started ? `: ${started.message}` : ''}`,
    },
  ];
  // How a watch ended without a rollback or promotion entry of its own (superseded, cancelled...).
  const announced = facts.history.some((entry) =>
    ['watch:ended', 'watch:promoted', 'rollback:completed', 'rollback:failed'].includes(entry.kind),
  );
  if (watch.endedAt !== null && !announced)
    entries.push({
      at: watch.endedAt,
      kind: 'watch_ended',
      text: `watch ended: ${watch.status}${watch.endReason ? ` (${watch.endReason})` : ''}`,
    });
  return entries;
}

function historyEntries(history: readonly IncidentHistoryEntry[]): RawEntry[] {
  const entries: RawEntry[] = [];
  for (const entry of history) {
    const detail = (entry.detail ?? {}) as RollbackDetail & {
      status?: string;
      operation?: string;
      verdict?: string;
    };
    const add = (kind: TimelineKind, text: string, at = entry.at) => entries.push({ at, kind, text });
    switch (entry.kind) {
      case 'watch:alert':
        add('alert', `alert: ${entry.message}`);
        break;
      case 'watch:held':
        add('held', `held (not acted on): ${entry.message}`);
        break;
      case 'watch:failure':
        add('failure', `failure${detail.operation ? ` (${detail.operation})` : ''}: ${entry.message}`);
        break;
      case 'watch:insufficient-data':
        add('insufficient_data', `insufficient data: ${entry.message}`);
        break;
      case 'watch:candidate':
        add(detail.verdict === 'passed' ? 'promoted' : 'alert', `candidate test: ${entry.message}`);
        break;
      case 'watch:step':
        add('promoted', `release step: ${entry.message}`);
        break;
      case 'watch:promoted':
        add('promoted', `promoted ${entry.revision ?? ''}: ${entry.message}`);
        break;
      case 'watch:ended':
        add('watch_ended', `watch ended: ${detail.status ?? 'ended'} (${entry.message})`);
        break;
      case 'rollback:started':
        add(
          'rollback_sent',
          `rollback sent (${detail.trigger ?? 'unknown trigger'}): traffic from ${list(detail.from)} to ${detail.to ?? '?'}: ${entry.message}`,
        );
        break;
      case 'rollback:completed':
        rollbackCompleted(entry, detail, add);
        break;
      case 'rollback:failed':
        add(
          'rollback_failed',
          `rollback to ${detail.to ?? '?'} FAILED: ${detail.error ? `${detail.error.code}: ${detail.error.message}` : entry.message}`,
        );
        break;
      case 'rollback:refused':
        add('rollback_refused', `rollback refused (${detail.refusal ?? 'refused'}): ${entry.message}`);
        break;
    }
  }
  return collapseRepeats(entries);
}

function rollbackCompleted(
  entry: IncidentHistoryEntry,
  detail: RollbackDetail,
  add: (kind: TimelineKind, text: string) => void,
): void {
  const duration =
    detail.durationMs === undefined ? '' : ` ${formatDuration(detail.durationMs)} after the trip`;
  if (detail.confirmed)
    add('rollback_confirmed', `rollback confirmed: 100 % of traffic on ${detail.to ?? '?'}${duration}`);
  else
    add(
      'rollback_unconfirmed',
      `rollback to ${detail.to ?? '?'} NOT confirmed in the service's traffic status${duration}: ${entry.message}`,
    );
  const probe = detail.probe;
  add(
    'health_after',
    probe === undefined || probe === null
      ? 'health afterwards: not probed (no service URL)'
      : `health afterwards: ${probe.ok ? 'healthy' : 'UNHEALTHY'}${probe.status === undefined ? '' : ` (status ${probe.status})`}${probe.error ? `: ${probe.error}` : ''}`,
  );
}

/** Repeated failures or holds (one per tick while a poll keeps failing) read as one line with a count. */
function collapseRepeats(entries: RawEntry[]): RawEntry[] {
  const out: Array<RawEntry & { times: number }> = [];
  for (const entry of entries) {
    const last = out.at(-1);
    if (last && (entry.kind === 'failure' || entry.kind === 'held') && last.text === entry.text) {
      last.times += 1;
      continue;
    }
    out.push({ ...entry, times: 1 });
  }
  return out.map(({ times, ...entry }) =>
    times > 1 ? { ...entry, text: `${entry.text} (${times} times)` } : entry,
  );
}

function ruleSummaries(evaluations: readonly IncidentEvaluation[]): RuleSummary[] {
  const byRule = new Map<string, RuleSummary>();
  for (const entry of evaluations) {
    const summary = byRule.get(entry.rule) ?? {
      rule: entry.rule,
      signal: entry.signal,
      action: entry.action,
      threshold: entry.threshold,
      evaluations: 0,
      unhealthy: 0,
      worst: null,
    };
    summary.evaluations += 1;
    if (entry.verdict === 'unhealthy') summary.unhealthy += 1;
    if (entry.value !== null) summary.worst = Math.max(summary.worst ?? entry.value, entry.value);
    byRule.set(entry.rule, summary);
  }
  return [...byRule.values()];
}

function restorePointOf(
  facts: IncidentFacts,
  rollbacks: readonly IncidentHistoryEntry[],
): IncidentRestorePoint | null {
  // The rollback's report says whether the schema changed since; the watch holds the point itself.
  const reported = rollbacks
    .map((entry) => (entry.detail as RollbackDetail | null)?.restorePoint)
    .filter((point) => point !== undefined && point !== null)
    .at(-1);
  const point: Partial<RestorePoint> | undefined = facts.watch?.restorePoint ?? reported;
  if (!point) return null;
  return {
    source: point.source ?? 'none',
    backup: point.backup ?? null,
    takenAt: point.takenAt == null ? null : iso(point.takenAt),
    note: point.note ?? null,
    schemaChanged: reported?.schemaChanged ?? null,
    schemaDetail: reported?.schemaDetail ?? null,
  };
}

function rollbackOutcome(rollbacks: readonly IncidentHistoryEntry[]): string {
  const last = rollbacks.at(-1);
  if (!last) return 'unknown';
  if (last.kind === 'rollback:completed')
    return (last.detail as RollbackDetail).confirmed ? 'rolled_back' : 'rolled_back_unconfirmed';
  return last.kind === 'rollback:started' ? 'rollback_started' : last.kind.replace(':', '_');
}

function title(service: string, candidate: string | null, outcome: string, to: string | null): string {
  const revision = candidate ?? 'unknown revision';
  switch (outcome) {
    case 'rolled_back':
      return `${service}: ${revision} rolled back${to ? ` to ${to}` : ''}`;
    case 'promoted':
      return `${service}: ${revision} promoted`;
    case 'watching':
      return `${service}: ${revision} still being watched`;
    default:
      return `${service}: ${revision} ${outcome.replaceAll('_', ' ')}`;
  }
}

function list(revisions: readonly string[] | undefined): string {
  return revisions && revisions.length > 0 ? revisions.join(', ') : 'unknown';
}

function offset(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  return `${ms < 0 ? '-' : '+'}${formatDuration(seconds * 1000)}`;
}

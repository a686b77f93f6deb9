import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { EvaluationRecord } from '../../store/watch/evaluations-repo.js';
import type { HistoryEntry } from '../../store/watch/history-repo.js';
import { findService } from '../../watch/watched-service.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { withStateView } from '../read-state.js';

interface HistoryOptions extends GlobalOptions {
  service?: string;
  limit: number;
  watch?: number;
  guard?: boolean;
}

export function registerHistory(program: Command): void {
  withJsonOption(withConfigOption(program.command('history')))
    .description(
      'show what the deploy watch did and why; --watch N lists every rule evaluation of one watch, --guard those of the guard on the serving revision',
    )
    .option('-s, --service <name>', 'only this service')
    .option('-n, --limit <count>', 'newest entries to show', positiveInt, 50)
    .option(
      '-w, --watch <id>',
      'the evaluations of this watch: window, query, raw values, threshold, verdict, action',
      positiveInt,
    )
    .option('--guard', "with --service: the guard's newest evaluations of the serving revision (kept 3 days)")
    .action(async (options: HistoryOptions) => {
      const result = await withStateView(options, (runtime): HistoryResult => {
        if (options.service !== undefined) findService(runtime.services, options.service);
        if (options.guard === true) {
          if (options.service === undefined || options.watch !== undefined)
            throw new UsageError('--guard needs --service S (and no --watch): whose guard to show');
          return {
            guard: options.service,
            evaluations: runtime.store.evaluations.forGuard(options.service, options.limit).reverse(),
          };
        }
        if (options.watch !== undefined) {
          const watch = runtime.store.watches.get(options.watch);
          if (!watch) throw new UsageError(`--watch ${options.watch}: no such watch`);
          return {
            watch,
            evaluations: runtime.store.evaluations.forWatch(watch.id, options.limit).reverse(),
          };
        }
        return { entries: runtime.store.history.list({ service: options.service, limit: options.limit }) };
      });
      printResult(result, options.json === true, (data) =>
        'entries' in data ? describeEntries(data.entries) : describeEvaluations(data.evaluations),
      );
    });
}

type HistoryResult =
  | { entries: HistoryEntry[] }
  | { watch: unknown; evaluations: EvaluationRecord[] }
  | { guard: string; evaluations: EvaluationRecord[] };

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError('expected a whole number of 1 or more');
  return value;
}

function describeEntries(entries: HistoryEntry[]): string {
  if (entries.length === 0) return 'no history yet';
  return entries
    .map((entry) => {
      const watch = entry.watchId === null ? '' : ` [watch ${entry.watchId}]`;
      return `${new Date(entry.at).toISOString()}  ${entry.service}  ${entry.kind}${watch}  ${entry.revision ?? '-'}\n    ${entry.message}`;
    })
    .join('\n');
}

function describeEvaluations(evaluations: EvaluationRecord[]): string {
  if (evaluations.length === 0) return 'no evaluations recorded';
  return evaluations
    .map((entry) => {
      const window = entry.window
        ? ` window ${new Date(entry.window.start).toISOString()}..${new Date(entry.window.end).toISOString()}`
        : '';
      return [
        `${new Date(entry.at).toISOString()}  ${entry.phase === 'guard' ? `[guard ${entry.revision}] ` : ''}${entry.rule} (${entry.action})  ${entry.verdict}  -> ${entry.taken}`,
        `    ${entry.detail}; value ${entry.value ?? 'none'}, threshold ${entry.threshold}${entry.signal === 'latency' ? ' ms' : ''}${window}`,
        `    raw ${JSON.stringify(entry.raw)}`,
        entry.query ? `    query ${entry.query}` : '',
      ]
        .filter(Boolean)
        .join('\n');
    })
    .join('\n');
}

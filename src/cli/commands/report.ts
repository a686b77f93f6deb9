import { type Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import { incidentMarkdown } from '../../core/incident-markdown.js';
import { buildIncidentReport } from '../../core/incident-report.js';
import type { IncidentReport } from '../../core/incident-types.js';
import { parseSince } from '../../core/since-time.js';
import { type IncidentQuery, loadIncidents } from '../../watch/incident-load.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { withStateView } from '../read-state.js';

interface ReportOptions extends GlobalOptions {
  watch?: number;
  rollback?: number;
  since?: string;
  format: 'md' | 'json';
}

export function registerReport(program: Command): void {
  withJsonOption(withConfigOption(program.command('report')))
    .description(
      'the report of an incident from the store: timeline, rule values against thresholds, restore point, console links, the questions to answer',
    )
    .option('-w, --watch <id>', 'the incident of this watch', positiveInt)
    .option(
      '-r, --rollback <id>',
      'the incident of this rollback (its history entry id, as notifications name it)',
      positiveInt,
    )
    .option(
      '--since <time>',
      'every watch and rollback since TIME: ISO-8601 (2026-11-28T10:00:00Z) or a duration (2h, 1d)',
    )
    .addOption(
      new Option('--format <format>', 'md: Markdown to paste in an issue; json: structured')
        .choices(['md', 'json'])
        .default('md'),
    )
    .action(async (options: ReportOptions) => {
      // Read before the store opens: a bad --since is a usage error whatever the store holds.
      const query = queryOf(options);
      const reports = await withStateView(options, (view) =>
        loadIncidents(view.store, view.services, query).map(buildIncidentReport),
      );
      const since = 'since' in query ? new Date(query.since).toISOString() : undefined;
      const asJson = options.json === true || options.format === 'json';
      printResult(
        { since: since ?? null, incidents: reports },
        asJson,
        (data: { incidents: IncidentReport[] }) =>
          incidentMarkdown(data.incidents, { command: commandOf(options), ...(since ? { since } : {}) }),
      );
    });
}

function queryOf(options: ReportOptions): IncidentQuery {
  const given = [options.watch, options.rollback, options.since].filter((value) => value !== undefined);
  if (given.length !== 1)
    throw new UsageError('give exactly one of --watch ID, --rollback ID or --since TIME');
  if (options.watch !== undefined) return { watch: options.watch };
  if (options.rollback !== undefined) return { rollback: options.rollback };
  const since = parseSince(options.since as string, Date.now());
  if (since === undefined)
    throw new UsageError(
      `--since ${options.since}: not a time; give an ISO-8601 time in the past (2026-11-28T10:00:00Z) or a duration (2h, 1d)`,
    );
  return { since };
}

function commandOf(options: ReportOptions): string {
  if (options.watch !== undefined) return `runwarden report --watch ${options.watch}`;
  if (options.rollback !== undefined) return `runwarden report --rollback ${options.rollback}`;
  return `runwarden report --since ${options.since}`;
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError('expected a whole number of 1 or more');
  return value;
}

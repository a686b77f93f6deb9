// The results table: one row per figure, runwarden beside its baseline, the ratio and the target.
// Rendered as markdown for bench/RESULTS.md and stdout, and as JSON for the quick-mode test.

export const COLUMNS = ['Benchmark', 'Metric', 'runwarden', 'Baseline', 'Ratio', 'Target', 'Result', 'Runs'];

/**
 * One measured figure. `value` and `baseline` are medians in `unit` ('ms', 'bytes', 'percent',
 * 'count'); `target` is `{ ratioMax }` or `{ ratioEquals }` (judged on value / baseline), `{ max }`
 * (judged on value) or undefined (reported only). `baselineName` says what the baseline is.
 */
export function figure({ bench, metric, unit, value, baseline, baselineName, target, runs, note }) {
  const ratio = baseline > 0 ? value / baseline : Number.NaN;
  let verdict = 'reported';
  if (target?.ratioMax !== undefined) verdict = ratio <= target.ratioMax ? 'met' : 'missed';
  if (target?.max !== undefined) verdict = value <= target.max ? 'met' : 'missed';
  if (target?.ratioEquals !== undefined) verdict = ratio === target.ratioEquals ? 'met' : 'missed';
  if (!Number.isFinite(value)) verdict = 'missed';
  return {
    bench,
    metric,
    runwarden: format(value, unit),
    baseline: `${format(baseline, unit)} (${baselineName})`,
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(ratio < 10 ? 3 : 1)}×` : '—',
    target: describeTarget(target, unit),
    result: verdict,
    runs: String(runs),
    note,
    raw: { value, baseline, ratio, unit },
  };
}

/** A row that could not be measured, saying why (never a made-up number). */
export function notMeasured({ bench, metric, target, unit, why }) {
  return {
    bench,
    metric,
    runwarden: `not measured: ${why}`,
    baseline: '—',
    ratio: '—',
    target: describeTarget(target, unit),
    result: 'not measured',
    runs: '0',
  };
}

/** A benchmark that threw: the row says so, and the quick-mode test treats it as broken. */
export function failed({ bench, metric, target, unit, error }) {
  const message = String(error?.message ?? error)
    .split('\n')[0]
    .slice(0, 200);
  return {
    ...notMeasured({ bench, metric, target, unit, why: '' }),
    runwarden: `failed: ${message}`,
    result: 'failed',
  };
}

export function renderMarkdown(rows) {
  const cells = rows.map((row) => [
    row.bench,
    row.metric,
    row.runwarden,
    row.baseline,
    row.ratio,
    row.target,
    row.result,
    row.runs,
  ]);
  const escapePipes = (text) => String(text).replaceAll('|', '\\|');
  const lines = [`| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map(() => '---').join(' | ')} |`];
  for (const line of cells) lines.push(`| ${line.map(escapePipes).join(' | ')} |`);
  return lines.join('\n');
}

function describeTarget(target, unit) {
  if (target?.ratioMax !== undefined) return `≤ ${target.ratioMax}×`;
  if (target?.max !== undefined) return `≤ ${format(target.max, unit)}`;
  if (target?.ratioEquals !== undefined) return `= ${target.ratioEquals}×`;
  return '—';
}

export function format(value, unit) {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'ms':
      return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
    case 'bytes':
      if (value >= 1024 ** 3) return `${(value / 1024 ** 3).toFixed(2)} GiB`;
      return value >= 1024 ** 2
        ? `${(value / 1024 ** 2).toFixed(1)} MiB`
        : `${(value / 1024).toFixed(1)} KiB`;
    case 'percent':
      return `${value.toFixed(2)} %`;
    default:
      return String(Math.round(value * 100) / 100);
  }
}

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-bench-quick-');
const ROOT = path.resolve(import.meta.dirname, '..');
const COLUMNS = ['Benchmark', 'Metric', 'runwarden', 'Baseline', 'Ratio', 'Target', 'Result', 'Runs'];

interface Row {
  bench: string;
  metric: string;
  runwarden: string;
  result: string;
  raw?: { value: number };
}

function runQuick(results: string, json: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['bench/run.mjs', '--quick', '--results', results, '--json', json],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The markdown table's data rows as cells, header and separator checked. */
function tableRows(markdown: string): string[][] {
  const lines = markdown.split('\n').filter((line) => line.startsWith('|'));
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
  expect(cells(lines[0] ?? '')).toEqual(COLUMNS);
  return lines.slice(2).map(cells);
}

// Every piece the benchmarks drive has landed: every row must hold numbers, not excuses.
const BENCHMARKS = [
  '1. Backup',
  '2. Memory as data grows',
  '3. Backup under write load',
  '4. Restore',
  '5. Time to rollback',
  '6. Alert to action',
  '7. Idle footprint',
  '8. Hostile webhook bodies',
  '9. Off-site copy',
  '10. Lease failover',
  '11. Shared state copy',
  '12. Guard idle cost',
  '13. 500 services',
];

describe('npm run bench -- --quick', () => {
  it('runs every benchmark once and fills every row of the table', { timeout: 1_800_000 }, async () => {
    const dir = tempDir();
    const results = path.join(dir, 'RESULTS.md');
    const json = path.join(dir, 'rows.json');
    const run = await runQuick(results, json);
    expect(run.code, run.stderr).toBe(0);

    const printed = tableRows(run.stdout);
    expect(printed.length).toBeGreaterThanOrEqual(20);
    for (const row of printed) {
      expect(row, row.join(' | ')).toHaveLength(COLUMNS.length);
      for (const cell of row) expect(cell, row.join(' | ')).not.toBe('');
      for (const cell of row) expect(cell, row.join(' | ')).not.toMatch(/undefined|NaN|null/);
    }
    expect(tableRows(readFileSync(results, 'utf8'))).toEqual(printed);

    const rows = (JSON.parse(readFileSync(json, 'utf8')) as { rows: Row[] }).rows;
    expect(rows).toHaveLength(printed.length);
    for (const row of rows) {
      const where = `${row.bench} / ${row.metric}: ${row.runwarden}`;
      expect(['met', 'missed', 'reported'], where).toContain(row.result);
      expect(Number.isFinite(row.raw?.value), where).toBe(true);
    }
    expect(new Set(rows.map((row) => row.bench))).toEqual(new Set(BENCHMARKS));
  });
});

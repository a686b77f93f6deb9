import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { restoreProgress } from '../src/cli/restore-progress.js';
import { createLogger } from '../src/telemetry/logger.js';

/** A real writable stream that records what was written, flagged as a terminal or not. */
function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  (stream as { isTTY: boolean }).isTTY = isTTY;
  return { stream, text: () => chunks.join('') };
}

describe('restore progress', () => {
  it('draws a bar and step lines on a terminal', () => {
    const terminal = capture(true);
    const logs = capture(false);
    const progress = restoreProgress(
      createLogger({ format: 'json', destination: logs.stream }),
      terminal.stream,
    );
    progress.report({ kind: 'verify', done: 512, total: 1024 });
    progress.report({ kind: 'step', step: 'verified' });
    progress.report({ kind: 'bytes', done: 1024, total: 1024 });
    progress.report({
      kind: 'step',
      step: 'safety-copied',
      detail: '/data/db.sqlite3.pre-restore-20261128_000000',
    });
    progress.done();
    expect(terminal.text()).toContain('\rverify   [###############...............]  50%');
    expect(terminal.text()).toContain('\narchive verified\n');
    expect(terminal.text()).toContain('\rrestore  [##############################] 100%');
    expect(terminal.text()).toContain('safety copy taken: /data/db.sqlite3.pre-restore-20261128_000000\n');
    expect(logs.text()).toBe('');
  });

  it('writes plain log lines otherwise', () => {
    const pipe = capture(false);
    const logs = capture(false);
    const progress = restoreProgress(createLogger({ format: 'json', destination: logs.stream }), pipe.stream);
    progress.report({ kind: 'verify', done: 10, total: 100 });
    progress.report({ kind: 'step', step: 'renamed' });
    progress.done();
    expect(pipe.text()).toBe('');
    const lines = logs
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.message)).toEqual(['progress', 'renamed into place']);
    expect(lines[0]).toMatchObject({ phase: 'verify', done_bytes: 10, total_bytes: 100 });
    expect(lines[1]).toMatchObject({ step: 'renamed' });
  });
});

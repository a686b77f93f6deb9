// 3. Backup under write load: the app's writer in another process commits 200 transactions a
// second on the main database while runwarden backs it up. Compared: the writer's p99 commit
// latency during the backup against the same writer just before it, with no backup running.
import { fork } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipBaseline } from './lib/baselines.mjs';
import { runwardenBackup, writeBackupConfig } from './lib/runwarden.mjs';
import { schedMs } from './lib/proc.mjs';
import { median, percentile } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '3. Backup under write load';
const RATE = 200;
const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'writer-child.mjs');

export const writeLoad = {
  id: 'write-load',
  metrics: [
    { bench: BENCH, metric: 'writer p99 commit latency', unit: 'ms', target: { ratioMax: 2 } },
    { bench: BENCH, metric: 'longest write (worst of all runs)', unit: 'ms', target: { max: 1000 } },
    { bench: BENCH, metric: 'control: writer p99 during the zip pipeline', unit: 'ms' },
    { bench: BENCH, metric: 'backup wall time under load', unit: 'ms' },
  ],
  async run(ctx) {
    const dataset = ctx.dataset(ctx.quick ? 'quick' : '1x');
    const quietMs = Math.min(20_000, Math.max(ctx.quick ? 2_000 : 5_000, ctx.shared.backupWallMs ?? 0));
    const p99 = { quiet: [], runwarden: [], zip: [] };
    const longest = { quiet: [], runwarden: [], zip: [] };
    // How long the writer was runnable but waiting for a CPU, per second of each window.
    const cpuWait = { quiet: [], runwarden: [], zip: [] };
    const backupMs = [];
    const aloneMs = [];
    let failedWrites = 0;
    let writes = 0;
    for (let run = 0; run < ctx.runs; run++) {
      ctx.log(`write-load run ${run + 1}/${ctx.runs}`);
      const work = path.join(ctx.work, 'write-load');
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      // The writer gets its own copy: the cached data set is never modified.
      const mainDb = path.join(work, 'db.sqlite3');
      copyFileSync(dataset.mainDb, mainDb);
      // The same backup with no writer, before or after the loaded part by turns: the slowdown's baseline.
      const alone = async () => {
        const backup = await runwardenBackup(
          writeBackupConfig(path.join(work, 'alone'), dataset, { mainDb }),
        );
        aloneMs.push(backup.wallMs);
        rmSync(path.join(work, 'alone'), { recursive: true, force: true });
      };
      if (run % 2 === 0) await alone();
      const writer = await startWriter(mainDb);
      await delay(1_000);
      const windows = {};
      const waited = (name, work) => async () => {
        const before = schedMs(writer.pid).waiting;
        const window = await work();
        cpuWait[name].push(((schedMs(writer.pid).waiting - before) / (window[1] - window[0])) * 1000);
        return window;
      };
      windows.quiet = await waited('quiet', async () => {
        const from = epochNow();
        await delay(quietMs);
        return [from, epochNow()];
      })();
      // The zip pipeline under the same writer is the control: what any backup of this size costs
      // the writer on this machine (CPU, page cache, disk), as opposed to what runwarden adds.
      const contenders = {
        runwarden: async () => {
          const backup = await runwardenBackup(writeBackupConfig(path.join(work, 'rw'), dataset, { mainDb }));
          backupMs.push(backup.wallMs);
          rmSync(path.join(work, 'rw'), { recursive: true, force: true });
          return [backup.startedAt, backup.finishedAt];
        },
        zip: async () => {
          const from = epochNow();
          const result = await zipBaseline({ ...dataset, mainDb }, work);
          rmSync(result.archive, { force: true });
          return [from, epochNow()];
        },
      };
      for (const name of run % 2 === 0 ? ['runwarden', 'zip'] : ['zip', 'runwarden']) {
        windows[name] = await waited(name, contenders[name])();
        await delay(1_000);
      }
      const samples = await writer.stop();
      if (run % 2 === 1) await alone();
      for (const [name, [from, to]] of Object.entries(windows)) {
        const within = latencies(samples, from, to);
        p99[name].push(percentile(within, 99));
        longest[name].push(Math.max(...within));
      }
      failedWrites += samples.filter((sample) => sample[2]).length;
      writes += samples.length;
      rmSync(work, { recursive: true, force: true });
    }
    const list = (values) => values.map((value) => format(value, 'ms')).join(', ');
    ctx.note(
      BENCH,
      `writer: ${RATE} tx/s, WAL, synchronous=NORMAL, busy_timeout 10 s, one INSERT per transaction; ${writes} writes, ${failedWrites} failed. ` +
        `Quiet window ${format(quietMs, 'ms')} before each backup. Per-run p99 quiet: ${list(p99.quiet)}; during runwarden: ${list(p99.runwarden)}; ` +
        `during the zip pipeline: ${list(p99.zip)}. Longest write per run, runwarden: ${list(longest.runwarden)}; zip: ${list(longest.zip)}. ` +
        `The writer's wait for a CPU (/proc schedstat, ms per second, median): quiet ${median(cpuWait.quiet).toFixed(1)}, during runwarden ${median(cpuWait.runwarden).toFixed(1)}, during zip ${median(cpuWait.zip).toFixed(1)}.` +
        ` Backup alone per run: ${list(aloneMs)}; under the writer: ${list(backupMs)}.`,
    );
    const n = ctx.runs;
    return [
      figure({
        ...this.metrics[0],
        value: median(p99.runwarden),
        baseline: median(p99.quiet),
        baselineName: 'same writer, no backup',
        runs: n,
      }),
      figure({
        ...this.metrics[1],
        value: Math.max(...longest.runwarden),
        baseline: Math.max(...longest.quiet),
        baselineName: 'longest write without backup',
        runs: n,
      }),
      figure({
        ...this.metrics[2],
        value: median(p99.zip),
        baseline: median(p99.quiet),
        baselineName: 'same writer, no backup',
        runs: n,
      }),
      figure({
        ...this.metrics[3],
        value: median(backupMs),
        baseline: median(aloneMs),
        baselineName: 'same backup, no writer',
        runs: n,
      }),
    ];
  },
};

function latencies(samples, from, to) {
  return samples.filter(([start]) => start >= from && start <= to).map(([, ms]) => ms);
}

function startWriter(file) {
  const child = fork(WRITER, [file, String(RATE)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`writer exited ${code} before it was ready`)));
    child.once('message', () => {
      child.removeAllListeners('exit');
      resolve({
        pid: child.pid,
        stop: () =>
          new Promise((done, fail) => {
            child.once('message', (message) => done(message.samples));
            child.once('exit', (code) => code !== 0 && fail(new Error(`writer exited ${code}`)));
            child.send('stop');
          }),
      });
    });
  });
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const epochNow = () => performance.timeOrigin + performance.now();

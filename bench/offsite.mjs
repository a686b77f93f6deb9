// 9. Off-site copies: runwarden's copy of an archive to the Cloud Storage emulator against a plain
// @google-cloud/storage upload of the same file; the peak memory of a backup followed by its
// off-site copy in one process against the same backup alone; and what the storage client adds to a
// process. Contenders alternate run by run; the emulator runs in this process, the same for both.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from './backup.mjs';
import { measure } from './lib/measure.mjs';
import { cliArgs, DIST, runwardenBackup, writeBackupConfig } from './lib/runwarden.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '9. Off-site copy';
const BUCKET = 'runwarden-bench';
/** Both contenders' resumable chunk and threshold: runwarden's defaults (client-options.ts). */
const CHUNK = 8 * 1024 * 1024;
const RESUMABLE_FROM = 8 * 1024 * 1024;
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'offsite-child.mjs');

export const offsite = {
  id: 'offsite',
  tools: ['/usr/bin/time'],
  metrics: [
    { bench: BENCH, metric: 'upload + confirm wall time', unit: 'ms', target: { ratioMax: 1.1 } },
    { bench: BENCH, metric: 'peak RSS, backup + off-site copy', unit: 'bytes', target: { ratioMax: 1.1 } },
    { bench: BENCH, metric: 'RSS of @google-cloud/storage + one client', unit: 'bytes' },
  ],
  async unavailable() {
    for (const file of ['playground/index.js', 'offsite/copy-offsite.js', 'app/offsite-service.js']) {
      try {
        await import(path.join(DIST, file));
      } catch {
        return `dist/${file} missing or broken (run npm run build)`;
      }
    }
    return undefined;
  },
  async run(ctx) {
    const dataset = ctx.dataset(ctx.quick ? 'quick' : '1x');
    const dir = path.join(ctx.work, 'offsite');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const { startPlayground } = await import(path.join(DIST, 'playground', 'index.js'));
    const playground = await startPlayground(
      { services: [{ name: 'unused' }], buckets: [BUCKET] }, // a scenario needs one service
      { storageDir: dir },
    );
    try {
      const storage = {
        endpoint: playground.storage.url,
        project: playground.storage.project,
        bucket: BUCKET,
      };
      const upload = await uploads(ctx, dataset, dir, storage);
      const memory = await backupPeaks(ctx, dataset, dir, storage);
      const client = await clientRss(ctx, storage);
      return [upload, memory, client];
    } finally {
      await playground.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Row 1: the same archive through copyOffsite and through bucket.upload(), alternating. */
async function uploads(ctx, dataset, dir, storage) {
  const archive = await sourceArchive(ctx, dataset, dir);
  const runs = { runwarden: [], plain: [] };
  const order = Object.keys(runs);
  for (let run = 0; run < ctx.runs; run++) {
    for (let turn = 0; turn < order.length; turn++) {
      const contender = order[(run + turn) % order.length];
      ctx.log(`offsite upload run ${run + 1}/${ctx.runs}: ${contender}`);
      const measured = await child({
        mode: 'upload',
        contender,
        dist: DIST,
        ...storage,
        file: archive.file,
        object: `${contender}-${run}.zip`,
        chunkSize: CHUNK,
        resumable: archive.size >= RESUMABLE_FROM,
        archive: { size: archive.size, sha256: archive.sha256, manifestSha256: archive.manifestSha256 },
      });
      if (measured.size !== archive.size) throw new Error(`${contender} stored ${measured.size} bytes`);
      runs[contender].push({ ...measured, processMs: measured.wallMs, processRss: measured.maxRssBytes });
    }
  }
  const med = (name, key) => median(runs[name].map((result) => result[key]));
  ctx.note(
    BENCH,
    `archive of ${describe(dataset)}: ${format(archive.size, 'bytes')}, ${archive.size >= RESUMABLE_FROM ? `resumable in ${format(CHUNK, 'bytes')} chunks` : 'in one request (under the resumable threshold)'} to the playground's Cloud Storage emulator (in the bench process). ` +
      `Upload medians: runwarden ${format(med('runwarden', 'uploadMs'), 'ms')} (put ${format(med('runwarden', 'putMs'), 'ms')}, ` +
      `then read-back and local CRC32C ${format(med('runwarden', 'confirmMs'), 'ms')}), CPU ${format(med('runwarden', 'cpuMs'), 'ms')}; ` +
      `plain bucket.upload() ${format(med('plain', 'uploadMs'), 'ms')}, CPU ${format(med('plain', 'cpuMs'), 'ms')}. ` +
      `Per run, runwarden: ${list(runs.runwarden, 'uploadMs', 'ms')}; plain: ${list(runs.plain, 'uploadMs', 'ms')}.`,
  );
  return figure({
    ...offsite.metrics[0],
    value: med('runwarden', 'uploadMs'),
    baseline: med('plain', 'uploadMs'),
    baselineName: 'bucket.upload(), CRC32C validated',
    runs: ctx.runs,
  });
}

/** The archive to upload: the backup benchmark's when it ran, else one made now by the built CLI. */
async function sourceArchive(ctx, dataset, dir) {
  let file = ctx.shared.archive?.dataset.dir === dataset.dir ? ctx.shared.archive.file : undefined;
  let made;
  if (!file) {
    ctx.log('offsite: making the archive with runwarden backup');
    made = await runwardenBackup(writeBackupConfig(path.join(dir, 'source'), dataset));
    file = made.result.file;
  }
  const { readManifestDigest } = await import(path.join(DIST, 'archive', 'manifest-read.js'));
  const { stat } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const { createReadStream } = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return {
    file,
    size: (await stat(file)).size,
    sha256: hash.digest('hex'),
    manifestSha256: (await readManifestDigest(file)).sha256,
  };
}

/** Row 2: peak RSS of backup + drain in one process against the same backup alone, alternating. */
async function backupPeaks(ctx, dataset, dir, storage) {
  const runs = { offsite: [], local: [] };
  const order = Object.keys(runs);
  for (let run = 0; run < ctx.runs; run++) {
    for (let turn = 0; turn < order.length; turn++) {
      const name = order[(run + turn) % order.length];
      ctx.log(
        `offsite memory run ${run + 1}/${ctx.runs}: backup ${name === 'offsite' ? 'then off-site copy' : 'alone'}`,
      );
      const work = path.join(dir, `memory-${name}`);
      rmSync(work, { recursive: true, force: true });
      const extra =
        name === 'offsite'
          ? { offsite: { bucket: storage.bucket, prefix: `memory-${run}/`, api_endpoint: storage.endpoint } }
          : {};
      const config = writeBackupConfig(work, dataset, { backupExtra: extra });
      runs[name].push(await child({ mode: 'backup', dist: DIST, config, offsite: name === 'offsite' }));
      rmSync(work, { recursive: true, force: true });
    }
  }
  const med = (name, key) => median(runs[name].map((result) => result[key]));
  ctx.note(
    BENCH,
    `peak RSS (the process's VmHWM) of one process taking a backup and then, as the daemon does, draining the off-site backlog (the uploader's copy with its read-back): ` +
      `median ${format(med('offsite', 'peak'), 'bytes')}, of which the backup phase ${format(med('offsite', 'hwmBackup'), 'bytes')} and the upload phase alone ${format(med('offsite', 'hwmUpload'), 'bytes')} ` +
      `(RSS after the backup ${format(med('offsite', 'rssAfterBackup'), 'bytes')}, after loading the storage client ${format(med('offsite', 'rssClientLoaded'), 'bytes')}; ` +
      `upload ${format(med('offsite', 'uploadMs'), 'ms')}); the same backup without off-site ${format(med('local', 'peak'), 'bytes')}. ` +
      `Per run with off-site: ${list(runs.offsite, 'peak', 'bytes')}; without: ${list(runs.local, 'peak', 'bytes')}.`,
  );
  return figure({
    ...offsite.metrics[1],
    value: med('offsite', 'peak'),
    baseline: med('local', 'peak'),
    baselineName: 'the same backup without off-site',
    runs: ctx.runs,
  });
}

/** Row 3: a bare node process against one that loaded the client and made one request. */
async function clientRss(ctx, storage) {
  const runs = { storage: [], bare: [] };
  for (let run = 0; run < ctx.runs; run++) {
    for (const name of run % 2 === 0 ? ['storage', 'bare'] : ['bare', 'storage']) {
      runs[name].push(await child({ mode: 'rss', storage: name === 'storage', ...storage }));
    }
  }
  const med = (name, key) => median(runs[name].map((result) => result[key]));
  ctx.note(
    BENCH,
    `@google-cloud/storage imported, one Storage client built and one request made (bucket metadata) adds ` +
      `${format(med('storage', 'rss') - med('bare', 'rss'), 'bytes')} of RSS to a bare node process ` +
      `(${format(med('bare', 'rss'), 'bytes')} → ${format(med('storage', 'rss'), 'bytes')}; peaks ${format(med('bare', 'hwm'), 'bytes')} → ${format(med('storage', 'hwm'), 'bytes')}); ` +
      `runwarden loads it only when backup.offsite is set.`,
  );
  return figure({
    ...offsite.metrics[2],
    value: med('storage', 'rss'),
    baseline: med('bare', 'rss'),
    baselineName: 'bare node',
    runs: ctx.runs,
  });
}

/** Runs offsite-child.mjs with the CLI's node flags under GNU time; its JSON plus the measurement. */
async function child(job) {
  const flags = cliArgs().slice(0, -1);
  const measured = await measure(process.execPath, [...flags, CHILD, JSON.stringify(job)]);
  const lines = measured.stdout.trim().split('\n');
  return {
    ...JSON.parse(lines[lines.length - 1]),
    wallMs: measured.wallMs,
    maxRssBytes: measured.maxRssBytes,
  };
}

function list(results, key, unit) {
  return results.map((result) => format(result[key], unit)).join(', ');
}

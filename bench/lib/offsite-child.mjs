// One measured step of the off-site benchmark, in a process of its own so that its memory and CPU
// are its own: `node offsite-child.mjs '<json>'` prints one JSON line of results on stdout.
//   upload  runwarden's copy (copyOffsite, as the uploader calls it: upload, then size + CRC32C read
//           back) or a plain @google-cloud/storage bucket.upload() of the same file; the timer
//           covers only the copy (modules are loaded and the client built before it starts, alike).
//   backup  a backup, then (with offsite) the uploader's drain in the same process, as the daemon
//           does it; peak RSS (VmHWM) of each phase.
//   rss     a bare node process, or one that imported @google-cloud/storage and opened one client.
import path from 'node:path';
import { highWaterBytes, resetHighWater, rssBytes } from './proc.mjs';

const job = JSON.parse(process.argv[2]);
const result = await { upload, backup, rss }[job.mode](job);
process.stdout.write(`${JSON.stringify(result)}\n`);

async function upload({
  contender,
  dist,
  endpoint,
  project,
  bucket,
  file,
  object,
  chunkSize,
  resumable,
  archive,
}) {
  const { Storage } = await import('@google-cloud/storage');
  const signal = new AbortController().signal;
  const cpuBefore = process.cpuUsage();
  let run;
  let remove;
  if (contender === 'runwarden') {
    const { openGcsObjectStore } = await import(path.join(dist, 'storage', 'gcs-object-store.js'));
    const { offsiteStoreOptions } = await import(path.join(dist, 'offsite', 'offsite-options.js'));
    const { copyOffsite } = await import(path.join(dist, 'offsite', 'copy-offsite.js'));
    // The options the off-site service opens its store with (prefix "" so both land side by side).
    const store = await openGcsObjectStore({
      ...offsiteStoreOptions({ bucket, prefix: '', api_endpoint: endpoint }),
      chunkSizeBytes: chunkSize,
    });
    const stages = {};
    run = () =>
      copyOffsite(store, { file, ...archive }, object, signal, {
        readBack: 'metadata',
        onStage: (stage) => {
          stages[stage] = performance.now();
        },
      }).then((copy) => ({ copy, stages }));
    remove = (copy) => store.delete(object, { ifGenerationMatch: copy.generation }, signal);
  } else {
    const storage = new Storage({ apiEndpoint: endpoint, projectId: project });
    const target = storage.bucket(bucket);
    run = async () => {
      const [uploaded] = await target.upload(file, {
        destination: object,
        resumable,
        ...(resumable ? { chunkSize } : {}),
        validation: 'crc32c',
        metadata: { contentType: 'application/zip' },
      });
      return {
        copy: { generation: Number(uploaded.metadata.generation), size: Number(uploaded.metadata.size) },
      };
    };
    remove = () => target.file(object).delete();
  }
  const setupCpu = process.cpuUsage(cpuBefore);
  const started = performance.now();
  const { copy, stages } = await run();
  const uploadMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const out = {
    uploadMs,
    cpuMs: (cpu.user + cpu.system - setupCpu.user - setupCpu.system) / 1000,
    size: copy.size,
  };
  if (stages) {
    // uploading → uploaded: the put (client-side CRC32C included); uploaded → end: read-back and the
    // wait for the local CRC32C computed beside the upload.
    out.putMs = stages.uploaded - stages.uploading;
    out.confirmMs = started + uploadMs - stages.uploaded;
  }
  await remove(copy);
  return out;
}

async function backup({ dist, config, offsite }) {
  const { loadConfig } = await import(path.join(dist, 'config', 'load.js'));
  const { createApp } = await import(path.join(dist, 'app', 'app.js'));
  const { createLogger } = await import(path.join(dist, 'telemetry', 'logger.js'));
  const loaded = loadConfig({ path: config });
  const app = createApp({
    config: loaded.config,
    logger: createLogger({ level: 'warn', format: 'json', fd: 2 }),
    owner: `cli:${process.pid}`,
  });
  const signal = new AbortController().signal;
  try {
    const started = performance.now();
    const made = await app.backups.run({ reason: 'manual', trigger: 'cli' }, { signal });
    const out = {
      backupMs: performance.now() - started,
      size: made.size,
      hwmBackup: highWaterBytes(process.pid),
    };
    if (offsite) {
      const service = await app.offsite();
      if (!service) throw new Error('backup.offsite is not configured');
      // Peak of the upload phase alone: the high-water mark restarts here (Linux clear_refs 5).
      out.rssAfterBackup = rssBytes(process.pid);
      const reset = resetHighWater(process.pid);
      // The client and its auth stack load here, as the drain's first copy would load them.
      await service.objectStore();
      out.rssClientLoaded = rssBytes(process.pid);
      const uploadStarted = performance.now();
      const drained = await service.uploader.drain(signal);
      out.uploadMs = performance.now() - uploadStarted;
      if (drained.copied.length !== 1) throw new Error(`drain copied ${JSON.stringify(drained)}`);
      out.hwmUpload = reset ? highWaterBytes(process.pid) : Number.NaN;
    }
    out.peak = Math.max(out.hwmBackup, out.hwmUpload ?? 0, highWaterBytes(process.pid));
    return out;
  } finally {
    await app.close();
  }
}

async function rss({ storage, endpoint, project, bucket }) {
  if (storage) {
    const { Storage } = await import('@google-cloud/storage');
    const client = new Storage({ apiEndpoint: endpoint, projectId: project });
    // One request, so the client's HTTP and auth layers are built, not only constructed.
    await client.bucket(bucket).getMetadata();
  }
  // Let start-up garbage settle the same way in both processes before reading.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { rss: rssBytes(process.pid), hwm: highWaterBytes(process.pid) };
}

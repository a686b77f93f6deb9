// A leader for the lease benchmark: holds the `watch` lease in the given bucket until it is killed
// (the parent sends SIGKILL), printing "leader" once it may act.
import path from 'node:path';

const [dist, endpoint, bucket, ttlMs, marginMs] = process.argv.slice(2);
const { GcsLease } = await import(path.join(dist, 'lease', 'gcs-lease.js'));
const { openGcsObjectStore } = await import(path.join(dist, 'storage', 'gcs-object-store.js'));
const { createLogger } = await import(path.join(dist, 'telemetry', 'logger.js'));
const store = await openGcsObjectStore({ bucket, apiEndpoint: endpoint, retry: { maxRetries: 0 } });
const lease = new GcsLease({
  store,
  scope: 'watch',
  holder: `bench-child/${process.pid}`,
  timing: { ttlMs: Number(ttlMs), marginMs: Number(marginMs) },
  logger: createLogger({ level: 'silent' }),
});
lease.onChange((leader) => {
  if (leader) process.stdout.write('leader\n');
});
lease.start();
setInterval(() => {}, 1 << 30);

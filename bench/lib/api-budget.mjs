// Cloud Run Admin API reads and Cloud Monitoring calls a daemon made, counted at the emulator, per
// minute, against the read quota runwarden keeps in code (src/cloudrun/cloud-run-api.ts).
import path from 'node:path';
import { DIST } from './runwarden.mjs';

const READS = ['GetService', 'ListServices', 'GetRevision', 'ListRevisions', 'GetOperation'];

/** The per-region read quota as built (a figure to verify; see the README). */
export async function readQuotaPerMinute() {
  const api = await import(path.join(DIST, 'cloudrun', 'cloud-run-api.js'));
  return api.CLOUD_RUN_READS_PER_MINUTE_QUOTA ?? Number.NaN;
}

/** A counter started now: `perMinute()` gives reads and Monitoring calls a minute since. */
export function apiCounter(playground) {
  const start = { ...playground.apiCalls() };
  const startedAt = performance.now();
  return () => {
    const now = playground.apiCalls();
    const minutes = (performance.now() - startedAt) / 60_000;
    const delta = (method) => (now[method] ?? 0) - (start[method] ?? 0);
    const byMethod = Object.fromEntries(
      [...READS, 'UpdateService', 'ListTimeSeries'].map((method) => [method, delta(method)]),
    );
    return {
      reads: READS.reduce((sum, method) => sum + delta(method), 0) / minutes,
      monitoring: delta('ListTimeSeries') / minutes,
      byMethod,
    };
  };
}

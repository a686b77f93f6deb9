// CPU and memory of a running process from /proc (Linux): what `ps` and `top` read.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) the process has used so far, in ms. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** Resident set size now, in bytes. */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** Peak resident set size since start or since `resetHighWater` (VmHWM), in bytes. */
export function highWaterBytes(pid) {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** Resets the process's peak RSS (Linux >= 4.0, same user); false where the kernel does not allow it. */
export function resetHighWater(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Scheduler statistics of a process's main thread, in ms: time on a CPU and time runnable but
 * waiting for one (the run queue). A slow window with a long run-queue wait was the machine's, not
 * the process's own work.
 */
export function schedMs(pid) {
  const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { onCpu: onCpu / 1e6, waiting: waiting / 1e6 };
}

/**
 * Watches processes side by side for `windowMs`: the peak RSS of each (sampled every 500 ms) and
 * its CPU over the window as a percent of one core. `pids` maps names to process ids.
 */
export async function footprint(pids, windowMs) {
  const entries = Object.entries(pids);
  const startCpu = Object.fromEntries(entries.map(([name, pid]) => [name, cpuMs(pid)]));
  const peak = Object.fromEntries(entries.map(([name]) => [name, 0]));
  const startedAt = performance.now();
  while (performance.now() - startedAt < windowMs) {
    for (const [name, pid] of entries) peak[name] = Math.max(peak[name], rssBytes(pid));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const elapsed = performance.now() - startedAt;
  return Object.fromEntries(
    entries.map(([name, pid]) => [
      name,
      { rss: peak[name], cpu: ((cpuMs(pid) - startCpu[name]) / elapsed) * 100 },
    ]),
  );
}

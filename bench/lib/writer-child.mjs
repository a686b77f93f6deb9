// The application's writer, in its own process: one small transaction every 1/rate seconds on the
// main database (WAL), timing each from BEGIN IMMEDIATE to COMMIT. Started with fork(); sends
// { ready } once writing, and on 'stop' replies { samples: [[startEpochMs, latencyMs], ...] }.
import Database from 'better-sqlite3';

const [file, rateText] = process.argv.slice(2);
const intervalMs = 1000 / Number(rateText);
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// A write that waits on a lock waits here (and shows in its latency) instead of failing.
db.pragma('busy_timeout = 10000');
const insert = db.prepare('INSERT INTO events (tenant, kind, at, token, payload) VALUES (?, ?, ?, ?, ?)');
const write = db.transaction((index) => {
  insert.run('writer', 'bench', new Date().toISOString(), `w${index}`, `{"n":${index}}`);
});

const samples = [];
const origin = performance.timeOrigin;
let stopped = false;
let index = 0;
const started = performance.now();

function tick() {
  if (stopped) return;
  const begin = performance.now();
  let failure;
  try {
    write.immediate(index);
  } catch (error) {
    failure = String(error.message);
  }
  samples.push(
    failure
      ? [origin + begin, performance.now() - begin, failure]
      : [origin + begin, performance.now() - begin],
  );
  index++;
  // Scheduled against the start, so a slow write is followed by catching up, as an app under load would.
  const next = started + index * intervalMs;
  setTimeout(tick, Math.max(0, next - performance.now()));
}

process.on('message', (message) => {
  if (message !== 'stop') return;
  stopped = true;
  db.close();
  process.send({ samples }, () => process.exit(0));
});
tick();
process.send({ ready: true });

// The benchmark data sets: a main SQLite database, tenant databases and a media folder that is
// mostly already-compressed images plus some text, generated from a fixed seed and cached in
// bench/.cache/ (a generated set is only used once its dataset.json is written, so an interrupted
// generation is redone rather than trusted).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { byteStream, prng } from './random.mjs';

const MB = 1024 * 1024;
const GENERATOR_VERSION = 1;
export const SEED = 20240601;

/** Data-set sizes; `scale` 4 is the "4 times the data" set of the memory benchmark. */
export const PROFILES = {
  quick: {
    mainBytes: 3 * MB,
    tenants: 5,
    tenantMin: 64 * 1024,
    tenantMax: 512 * 1024,
    mediaBytes: 4 * MB,
    imageMax: 512 * 1024,
  },
  quick4x: {
    mainBytes: 12 * MB,
    tenants: 20,
    tenantMin: 64 * 1024,
    tenantMax: 512 * 1024,
    mediaBytes: 16 * MB,
    imageMax: 512 * 1024,
  },
  '1x': {
    mainBytes: 320 * MB,
    tenants: 20,
    tenantMin: 1 * MB,
    tenantMax: 8 * MB,
    mediaBytes: 224 * MB,
    imageMax: 3 * MB,
  },
  '4x': {
    mainBytes: 1280 * MB,
    tenants: 80,
    tenantMin: 1 * MB,
    tenantMax: 8 * MB,
    mediaBytes: 896 * MB,
    imageMax: 3 * MB,
  },
};

/**
 * Returns the cached data set of `profile`, generating it first when missing:
 * `{ dir, mainDb, tenantPattern, mediaDir, stats }`.
 */
export function ensureDataset(cacheDir, profile, log = () => {}) {
  const spec = PROFILES[profile];
  if (!spec) throw new Error(`unknown data set profile ${profile}`);
  const dir = path.join(cacheDir, `dataset-v${GENERATOR_VERSION}-${profile}`);
  const marker = path.join(dir, 'dataset.json');
  if (!existsSync(marker)) {
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    log(`generating the ${profile} data set in ${dir} (seed ${SEED}; cached for later runs)`);
    const stats = generate(partial, spec, `${SEED}:${profile}`);
    writeFileSync(
      path.join(partial, 'dataset.json'),
      `${JSON.stringify({ profile, seed: SEED, ...stats }, null, 2)}\n`,
    );
    renameSync(partial, dir);
  }
  return {
    dir,
    mainDb: path.join(dir, 'db.sqlite3'),
    tenantPattern: path.join(dir, 'tenants', '{tenant}.sqlite3'),
    tenantsDir: path.join(dir, 'tenants'),
    mediaDir: path.join(dir, 'media'),
    stats: JSON.parse(readFileSync(marker, 'utf8')),
  };
}

function generate(dir, spec, seed) {
  const rand = prng(seed);
  const words = vocabulary(rand);
  const mainBytes = fillDatabase(path.join(dir, 'db.sqlite3'), spec.mainBytes, rand, words, 'main');
  mkdirSync(path.join(dir, 'tenants'));
  let tenantBytes = 0;
  const tenantIds = [];
  for (let index = 0; index < spec.tenants; index++) {
    const id = `tenant-${String(index + 1).padStart(3, '0')}`;
    tenantIds.push(id);
    const size = rand.logUniform(spec.tenantMin, spec.tenantMax);
    tenantBytes += fillDatabase(path.join(dir, 'tenants', `${id}.sqlite3`), size, rand, words, id);
  }
  const media = fillMedia(path.join(dir, 'media'), spec, rand, words, tenantIds, seed);
  return { mainBytes, tenants: tenantIds, tenantBytes, ...media };
}

/** Realistic rows (text that deflates about 3:1, plus random tokens) until the file reaches `target`. */
function fillDatabase(file, target, rand, words, tenant) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(`
    CREATE TABLE customers (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL, created_at TEXT NOT NULL, notes TEXT);
    CREATE TABLE events (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL, token TEXT NOT NULL, payload TEXT NOT NULL);
    CREATE INDEX orders_customer ON orders (customer_id);
    CREATE INDEX events_at ON events (tenant, at);
  `);
  const customer = db.prepare('INSERT INTO customers (tenant, email, name, created_at) VALUES (?, ?, ?, ?)');
  const order = db.prepare(
    'INSERT INTO orders (customer_id, status, total_cents, created_at, notes) VALUES (?, ?, ?, ?, ?)',
  );
  const event = db.prepare('INSERT INTO events (tenant, kind, at, token, payload) VALUES (?, ?, ?, ?, ?)');
  const pageSize = db.pragma('page_size', { simple: true });
  const sentence = (min, max) => {
    const count = rand.int(min, max);
    const parts = new Array(count);
    for (let index = 0; index < count; index++) parts[index] = rand.pick(words);
    return parts.join(' ');
  };
  const hex = (length) => {
    let text = '';
    while (text.length < length)
      text += Math.floor(rand.next() * 4294967296)
        .toString(16)
        .padStart(8, '0');
    return text.slice(0, length);
  };
  const at = () => new Date(1_600_000_000_000 + Math.floor(rand.next() * 150_000_000_000)).toISOString();
  let customers = 0;
  const batch = db.transaction((rows) => {
    for (let index = 0; index < rows; index++) {
      if (index % 20 === 0) {
        const first = rand.pick(words);
        customer.run(
          tenant,
          `${first}.${rand.pick(words)}@${rand.pick(words)}.example`,
          `${first} ${rand.pick(words)}`,
          at(),
        );
        customers++;
      }
      if (index % 4 === 0) {
        order.run(rand.int(1, customers), rand.pick(STATUSES), rand.int(100, 500_000), at(), sentence(5, 40));
      }
      const payload = JSON.stringify({
        ip: `10.${rand.int(0, 255)}.${rand.int(0, 255)}.${rand.int(1, 254)}`,
        path: `/${rand.pick(words)}/${rand.pick(words)}`,
        message: sentence(20, 90),
        ref: hex(12),
      });
      event.run(tenant, rand.pick(KINDS), at(), hex(32), payload);
    }
  });
  const size = () => db.pragma('page_count', { simple: true }) * pageSize;
  while (size() < target) batch(Math.max(50, Math.min(20_000, Math.ceil((target - size()) / 600))));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return statSync(file).size;
}

const STATUSES = ['new', 'paid', 'shipped', 'delivered', 'refunded', 'cancelled'];
const KINDS = ['login', 'logout', 'view', 'search', 'checkout', 'upload', 'comment', 'error'];

function vocabulary(rand) {
  const syllables = [
    'ka',
    'lo',
    'mi',
    'ra',
    'to',
    'ne',
    'sa',
    'vi',
    'do',
    'pe',
    'ju',
    'ba',
    'co',
    'ri',
    'an',
    'el',
    'os',
    'um',
  ];
  const words = [];
  for (let index = 0; index < 3000; index++) {
    let word = '';
    const count = rand.int(1, 4);
    for (let part = 0; part < count; part++) word += rand.pick(syllables);
    words.push(word);
  }
  return words;
}

// Already-compressed formats (stored as is by zip -n and by runwarden) with their magic numbers.
const IMAGE_KINDS = [
  {
    ext: 'jpg',
    weight: 6,
    head: Buffer.from('ffd8ffe000104a46494600010101004800480000', 'hex'),
    tail: Buffer.from('ffd9', 'hex'),
  },
  {
    ext: 'png',
    weight: 3,
    head: Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'),
    tail: Buffer.from('0000000049454e44ae426082', 'hex'),
  },
  {
    ext: 'webp',
    weight: 2,
    head: Buffer.from('52494646000000005745425056503820', 'hex'),
    tail: Buffer.alloc(0),
  },
  { ext: 'gif', weight: 1, head: Buffer.from('474946383961', 'hex'), tail: Buffer.from('3b', 'hex') },
  { ext: 'pdf', weight: 1, head: Buffer.from('%PDF-1.7\n'), tail: Buffer.from('\n%%EOF\n') },
];
const TEXT_EXTS = ['txt', 'json', 'html', 'csv', 'svg'];
const TEXT_SHARE = 0.08;

function fillMedia(dir, { mediaBytes: target, imageMax }, rand, words, tenantIds, seed) {
  const bytes = byteStream(`${seed}:media`);
  const weighted = IMAGE_KINDS.flatMap((kind) => Array(kind.weight).fill(kind));
  let imageBytes = 0;
  let textBytes = 0;
  let files = 0;
  const place = (name) => {
    const folder = path.join(
      dir,
      rand.pick(tenantIds),
      String(rand.int(2019, 2024)),
      String(rand.int(1, 12)).padStart(2, '0'),
    );
    mkdirSync(folder, { recursive: true });
    return path.join(folder, name);
  };
  while (imageBytes + textBytes < target) {
    files++;
    if (textBytes < (imageBytes + textBytes) * TEXT_SHARE) {
      const size = Math.min(rand.logUniform(2 * 1024, 256 * 1024), target);
      const parts = [];
      let length = 0;
      while (length < size) {
        const word = rand.pick(words);
        parts.push(word);
        length += word.length + 1;
      }
      const body = Buffer.from(parts.join(rand.next() < 0.1 ? '\n' : ' ')).subarray(0, size);
      writeFileSync(place(`doc-${files}.${rand.pick(TEXT_EXTS)}`), body);
      textBytes += body.length;
    } else {
      const kind = rand.pick(weighted);
      const size = Math.min(rand.logUniform(16 * 1024, imageMax), target);
      const body = Buffer.concat([
        kind.head,
        bytes(Math.max(0, size - kind.head.length - kind.tail.length)),
        kind.tail,
      ]);
      writeFileSync(place(`img-${files}.${kind.ext}`), body);
      imageBytes += body.length;
    }
  }
  return { mediaFiles: files, imageBytes, textBytes };
}

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { ArchivePipeline, BLOCK_BYTES } from '../src/archive/archive-pipeline.js';
import { AsyncQueue, ByteBudget } from '../src/archive/async-queue.js';
import { BlockDeflater, DeflatePool, OUTPUT_CHUNK } from '../src/archive/deflate-pool.js';
import type { CompressionMethod } from '../src/archive/manifest.js';
import { type WrittenEntry, ZipWriter } from '../src/archive/zip-writer.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-block-deflate-');

/** Text that deflates about 3:1, like the rows of a database (a seeded PRNG, so runs repeat). */
function text(bytes: number, seed = 1): Buffer {
  let state = seed * 2654435761;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  const words = Array.from({ length: 3000 }, () =>
    next()
      .toString(36)
      .slice(0, 2 + (next() % 6)),
  );
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const word = next() % 4 === 0 ? String(next() % 100000) : (words[next() % words.length] as string);
    parts.push(word);
    length += word.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, bytes);
}

/** `data` cut into blocks of `size`, pushed through a BlockDeflater, concatenated in order. */
async function blockDeflate(data: Buffer, size: number, pool = new DeflatePool(3)): Promise<Buffer> {
  const deflater = new BlockDeflater(pool, 6);
  const pieces: Array<Promise<Buffer[]>> = [];
  // As the pipeline reads files: the first short block is the final one (empty after whole blocks).
  for (let offset = 0; ; offset += size) {
    const block = data.subarray(offset, offset + size);
    pieces.push(deflater.push(block, block.length < size));
    if (block.length < size) break;
  }
  const chunks = (await Promise.all(pieces)).flat();
  // Never one large buffer: chunks stay below glibc's mmap threshold (see OUTPUT_CHUNK).
  for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(OUTPUT_CHUNK);
  return Buffer.concat(chunks);
}

describe('BlockDeflater (pigz-style blocks: previous 32 KiB as dictionary, sync flush, finish)', () => {
  const size = 64 * 1024;
  it.each([
    ['empty', 0],
    ['1 byte', 1],
    ['exactly one block', size],
    ['one block and one byte', size + 1],
    ['many blocks', 20 * size + 12_345],
    ['many whole blocks', 16 * size],
  ])('%s: the concatenated output is one raw-deflate stream that inflates to the input', async (_, bytes) => {
    const data = Buffer.concat([text(Math.floor(bytes / 2)), randomBytes(bytes - Math.floor(bytes / 2))]);
    const output = await blockDeflate(data, size);
    expect(inflateRawSync(output).equals(data)).toBe(true);
  });

  it('compresses as well as one long deflate: each block sees the previous 32 KiB', async () => {
    const data = text(4 * 1024 * 1024);
    const whole = deflateRawSync(data, { level: 6 });
    const blocks = await blockDeflate(data, 128 * 1024);
    expect(inflateRawSync(blocks).equals(data)).toBe(true);
    expect(blocks.length).toBeLessThan(whole.length * 1.01);
    // 16 KiB of noise repeated: only a block that sees its predecessor's bytes can refer back to them
    const repeated = Buffer.concat(Array<Buffer>(64).fill(randomBytes(16 * 1024)));
    const referring = await blockDeflate(repeated, 128 * 1024);
    expect(inflateRawSync(referring).equals(repeated)).toBe(true);
    expect(referring.length).toBeLessThan(2 * 16 * 1024);
  });

  it('handles blocks shorter than the window (the dictionary spans several of them)', async () => {
    const data = text(300 * 1024, 5);
    const output = await blockDeflate(data, 1000);
    expect(inflateRawSync(output).equals(data)).toBe(true);
  });

  it('runs at most `concurrency` jobs at once and refuses a nonsense size', async () => {
    expect(() => new DeflatePool(0)).toThrow(/positive integer/);
    const pool = new DeflatePool(2);
    const data = text(2 * 1024 * 1024);
    let most = 0;
    let done = false;
    const watch = (async () => {
      while (!done) {
        most = Math.max(most, pool.active);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const output = await blockDeflate(data, 32 * 1024, pool);
    done = true;
    await watch;
    expect(inflateRawSync(output).equals(data)).toBe(true);
    expect(most).toBe(2);
    expect(pool.active).toBe(0);
  });
});

interface Input {
  name: string;
  data: Buffer;
  method: CompressionMethod;
  /** Read from a file (block by block) rather than handed over in memory. */
  fromFile: boolean;
}

async function archive(file: string, inputs: Input[], pool: DeflatePool, bufferBytes?: number) {
  const zip = await ZipWriter.create(file);
  const written: WrittenEntry[] = [];
  const pipeline = new ArchivePipeline(zip, { pool, level: 6, ...(bufferBytes ? { bufferBytes } : {}) });
  for (const input of inputs) {
    const entry = { name: input.name, method: input.method, onWritten: (w: WrittenEntry) => written.push(w) };
    if (!input.fromFile) {
      await pipeline.addBuffer(entry, input.data);
      continue;
    }
    const source = path.join(path.dirname(file), `source-${written.length}-${Math.random()}`);
    writeFileSync(source, input.data);
    const handle = await open(source, 'r');
    try {
      expect(await pipeline.addFile({ ...entry, sizeHint: input.data.length }, handle)).toBe(
        input.data.length,
      );
    } finally {
      await handle.close();
    }
  }
  await pipeline.finish();
  await zip.finish();
  return written;
}

async function readAll(file: string): Promise<Array<[string, number, Buffer]>> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true });
  const seen: Array<[string, number, Buffer]> = [];
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    seen.push([entry.fileName, entry.compressionMethod, Buffer.concat(chunks)]);
  }
  zip.close();
  return seen;
}

describe('ArchivePipeline', () => {
  it('writes block-deflated entries of every awkward size that unzip -t and yauzl read back byte for byte', async () => {
    const sizes = [0, 1, BLOCK_BYTES - 1, BLOCK_BYTES, BLOCK_BYTES + 1, 3 * BLOCK_BYTES, 3 * BLOCK_BYTES + 7];
    const inputs: Input[] = sizes.flatMap((size, i) => [
      { name: `db/text-${size}.sqlite3`, data: text(size, i), method: 'deflate', fromFile: true },
      { name: `media/noise-${size}.bin`, data: randomBytes(size), method: 'store', fromFile: true },
      { name: `media/mem-${size}.txt`, data: text(size, i + 50), method: 'deflate', fromFile: false },
    ]);
    const file = path.join(tempDir(), 'sizes.zip');
    const written = await archive(file, inputs, new DeflatePool(2));

    const unzip = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
    expect(unzip.stdout).toContain('No errors detected');
    expect(unzip.status).toBe(0);
    const seen = await readAll(file);
    expect(seen.map(([name]) => name)).toEqual(inputs.map((input) => input.name));
    for (const [index, [name, method, data]] of seen.entries()) {
      const input = inputs[index] as Input;
      expect(data.equals(input.data), name).toBe(true);
      expect(method, name).toBe(input.method === 'store' ? 0 : 8);
      expect(written[index]).toMatchObject({
        name,
        size: input.data.length,
        crc32: crc32(input.data) >>> 0,
        sha256: createHash('sha256').update(input.data).digest('hex'),
      });
    }
  });

  it('keeps the order of hundreds of entries while later ones compress first, within a small buffer', async () => {
    const inputs: Input[] = Array.from({ length: 400 }, (_, i) => ({
      // big and small entries interleaved, so small ones finish compressing before big ones
      name: `media/${String(i).padStart(3, '0')}.txt`,
      data: i % 37 === 0 ? text(2 * BLOCK_BYTES + i, i) : text(1 + ((i * 997) % 5000), i),
      method: i % 5 === 0 ? 'store' : 'deflate',
      fromFile: i % 3 === 0,
    }));
    const file = path.join(tempDir(), 'order.zip');
    const written = await archive(file, inputs, new DeflatePool(4), 2 * BLOCK_BYTES);
    expect(written.map((entry) => entry.name)).toEqual(inputs.map((input) => input.name));
    expect(spawnSync('unzip', ['-tq', file]).status).toBe(0);
    const seen = await readAll(file);
    expect(seen.map(([name]) => name)).toEqual(inputs.map((input) => input.name));
    for (const [index, [name, , data]] of seen.entries())
      expect(data.equals((inputs[index] as Input).data), name).toBe(true);
  });

  it('stops on abort: the producer rejects with the reason and nothing touches the writer afterwards', async () => {
    const dir = tempDir();
    const source = path.join(dir, 'big.bin');
    writeFileSync(source, text(12 * BLOCK_BYTES));
    const zip = await ZipWriter.create(path.join(dir, 'aborted.zip'));
    const controller = new AbortController();
    const pipeline = new ArchivePipeline(zip, {
      pool: new DeflatePool(1),
      level: 6,
      signal: controller.signal,
      bufferBytes: 2 * BLOCK_BYTES,
    });
    const reason = new Error('stop now');
    const handle = await open(source, 'r');
    const adding = pipeline.addFile(
      {
        name: 'big.bin',
        method: 'deflate',
        onBytes: () => {
          if (!controller.signal.aborted) controller.abort(reason);
        },
      },
      handle,
    );
    await expect(adding).rejects.toBe(reason);
    await pipeline.abandon(reason);
    await handle.close();
    const sizeAfterAbandon = zip.size;
    await expect(pipeline.finish()).rejects.toBe(reason);
    await expect(pipeline.addBuffer({ name: 'late', method: 'store' }, Buffer.from('x'))).rejects.toBe(
      reason,
    );
    expect(zip.size).toBe(sizeAfterAbandon);
    await zip.close();
  });

  it('a read failure fails the whole pipeline with that error', async () => {
    const dir = tempDir();
    const zip = await ZipWriter.create(path.join(dir, 'failed.zip'));
    const pipeline = new ArchivePipeline(zip, { pool: new DeflatePool(1), level: 6 });
    const handle = await open(path.join(dir, 'failed.zip'), 'r');
    await handle.close(); // reading a closed handle fails like a vanished disk would
    await expect(pipeline.addFile({ name: 'gone', method: 'deflate' }, handle)).rejects.toMatchObject({
      code: 'EBADF',
    });
    await expect(pipeline.finish()).rejects.toMatchObject({ code: 'EBADF' });
    await zip.close();
  });
});

describe('ByteBudget and AsyncQueue', () => {
  it('never lets more than the capacity be held, serves waiters in order, and lets an oversized item pass alone', async () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    await budget.acquire(6);
    const second = budget.acquire(6).then(() => order.push('second'));
    const third = budget.acquire(1).then(() => order.push('third'));
    await Promise.resolve();
    expect(order).toEqual([]); // third fits, but waits behind second
    budget.release(6);
    await Promise.all([second, third]);
    expect(order).toEqual(['second', 'third']);
    budget.release(7);
    await budget.acquire(50); // larger than the capacity: passes once nothing is held
    const waiting = budget.acquire(1);
    const failure = new Error('pipeline failed');
    budget.fail(failure);
    await expect(waiting).rejects.toBe(failure);
    await expect(budget.acquire(1)).rejects.toBe(failure);
  });

  it('a waiting acquire rejects with the abort reason', async () => {
    const budget = new ByteBudget(1);
    await budget.acquire(1);
    const controller = new AbortController();
    const waiting = budget.acquire(1, controller.signal);
    controller.abort(new Error('aborted'));
    await expect(waiting).rejects.toThrow('aborted');
    budget.release(1);
    await budget.acquire(1); // the aborted waiter left no claim behind
  });

  it('delivers in order, ends on close, and rejects the waiting consumer on fail', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    const waiting = [queue.next(), queue.next()];
    queue.push(2);
    expect(await Promise.all(waiting)).toEqual([1, 2]);
    queue.close();
    expect(await queue.next()).toBeUndefined();
    const failing = new AsyncQueue<number>();
    const next = failing.next();
    failing.fail(new Error('broken'));
    await expect(next).rejects.toThrow('broken');
    expect(() => failing.push(3)).toThrow('broken');
  });
});

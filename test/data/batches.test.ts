import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { copyFile, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeBatches, decodeImage, limiter, type DecodedBatch } from '../../src/data/image.js';
import type { PreprocessSpec } from '../../src/backbone/types.js';
import type { DataItem } from '../../src/data/types.js';

const spec: PreprocessSpec = { size: 6, range: [-1, 1], fit: 'cover' };
let dir = '';
let items: DataItem[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-batches-'));
  items = [];
  for (let i = 0; i < 11; i++) {
    const file = path.join(dir, `${i}.png`);
    if (i === 3) await writeFile(file, 'not a png');
    else if (i === 8) await writeFile(file, Buffer.alloc(0));
    else await sharp({ create: { width: 8 + i, height: 5, channels: 3, background: { r: 20 * i, g: 100, b: 255 - 20 * i } } }).png().toFile(file);
    items.push({ id: `${i}.png`, source: file, labels: [i % 2 ? 'odd' : 'even'] });
  }
  // Raw pixels go through the same path.
  items.push({ id: 'idx:0', source: { width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 80, 160, 240]) }, labels: ['even'] });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('decodeBatches', () => {
  it('yields batches in order, failures listed with reasons, pixels equal to decodeImage one by one', async () => {
    const batches = [];
    for await (const b of decodeBatches(items, spec, { batchSize: 4, concurrency: 3 })) batches.push(b);
    expect(batches.map((b) => b.items.length + b.failed.length)).toEqual([4, 4, 4]);
    expect(batches.flatMap((b) => b.items.map((i) => i.id))).toEqual(items.map((i) => i.id).filter((id) => id !== '3.png' && id !== '8.png'));
    expect(batches.flatMap((b) => b.failed.map((f) => [f.item.id, f.reason]))).toEqual([
      ['3.png', 'not an image (unrecognised format)'],
      ['8.png', 'empty file'],
    ]);
    const px = 6 * 6 * 3;
    for (const b of batches) {
      expect(b.pixels.length).toBe(b.items.length * px);
      for (let j = 0; j < b.items.length; j++) {
        expect(Array.from(b.pixels.subarray(j * px, (j + 1) * px))).toEqual(Array.from(await decodeImage(b.items[j].source, spec)));
      }
    }
  });

  it('handles no items, and a last batch shorter than the rest', async () => {
    const none = [];
    for await (const b of decodeBatches([], spec)) none.push(b);
    expect(none).toHaveLength(0);
    const sizes = [];
    for await (const b of decodeBatches(items.slice(0, 7), spec, { batchSize: 5 })) sizes.push(b.items.length + b.failed.length);
    expect(sizes).toEqual([5, 2]);
  });

  it('decodes the next batch while the caller holds the current one', async () => {
    // Four good images copied aside; batch 2's files are deleted while the caller holds batch 1.
    // Only a decode that already ran (read the file) can still deliver them.
    const good = items.filter((i) => i.id !== '3.png' && i.id !== '8.png' && typeof i.source === 'string').slice(0, 4);
    const copies: DataItem[] = [];
    for (const item of good) {
      const copy = path.join(dir, `copy-${item.id}`);
      await copyFile(item.source as string, copy);
      copies.push({ ...item, source: copy });
    }
    const gen = decodeBatches(copies, spec, { batchSize: 2, concurrency: 2 });
    const first = (await gen.next()).value as DecodedBatch;
    expect(first.items).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 200));
    for (const c of copies.slice(2)) await unlink(c.source as string);
    const second = (await gen.next()).value as DecodedBatch;
    expect(second.failed).toEqual([]);
    expect(second.items.map((i) => i.id)).toEqual(copies.slice(2).map((i) => i.id));
    expect((await gen.next()).done).toBe(true);
  });
});

describe('limiter', () => {
  it('never runs more than n tasks at once, and starts them in order', async () => {
    const limit = limiter(3);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) => async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5 + ((i * 7) % 11)));
      running--;
      if (i === 4) throw new Error('four');
      return i;
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => limit(task(i))));
    expect(peak).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([0, 1, 2, 3, 'rejected', 5, 6, 7, 8, 9]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeIdx, labelsFileFor, parseIdx, readIdx, writeIdx, FASHION_MNIST_CLASSES } from '../../src/data/idx.js';
import { DatasetError } from '../../src/data/errors.js';
import type { RawImage } from '../../src/data/types.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-idx-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const n = 5;
const images = Uint8Array.from({ length: n * 3 * 2 }, (_, i) => (i * 37) % 256); // 5 images of 3 rows × 2 cols
const labels = Uint8Array.from([0, 9, 8, 0, 3]);

describe('IDX encoding', () => {
  it('writes the big-endian header MNIST uses: 0 0 type=0x08 ndims, then uint32 dims', () => {
    const b = encodeIdx([n, 3, 2], images);
    expect(Array.from(b.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 2]);
    expect(b.length).toBe(16 + images.length);
    expect(() => encodeIdx([n, 3, 3], images)).toThrow(/need 45 bytes, got 30/);
  });

  it('round-trips through parseIdx, plain and gzipped', () => {
    for (const gz of [false, true]) {
      const b = encodeIdx([n, 3, 2], images, gz);
      expect(b[0] === 0x1f && b[1] === 0x8b).toBe(gz);
      const back = parseIdx(b);
      expect(back.dims).toEqual([n, 3, 2]);
      expect(Array.from(back.data)).toEqual(Array.from(images));
    }
  });

  it('refuses what is not an unsigned-byte IDX file, naming the file', () => {
    expect(() => parseIdx(Buffer.from([1, 2, 3, 4]), 'bad')).toThrow(/^bad: not an IDX file \(bad magic number\)/);
    expect(() => parseIdx(Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), 'float')).toThrow(/^float: IDX type 0x0d \(float32\) is not supported/);
    expect(() => parseIdx(encodeIdx([n, 3, 2], images).subarray(0, 20), 'short')).toThrow(/^short: IDX data truncated: 4 of 30 bytes/);
    expect(() => parseIdx(Buffer.from([0, 0, 8, 3, 0, 0]), 'head')).toThrow(/^head: truncated IDX header/);
    expect(() => parseIdx(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]), 'gz')).toThrow(/^gz: corrupt gzip data/);
    expect(() => parseIdx(Buffer.from([1, 2, 3, 4]), 'bad')).toThrow(DatasetError);
  });
});

describe('readIdx', () => {
  it('round-trips write → read, gzip included, with Fashion-MNIST class names and idx:<n> ids', async () => {
    for (const gz of [false, true]) {
      const imgFile = path.join(dir, `train-images-idx3-ubyte${gz ? '.gz' : ''}`);
      const lblFile = path.join(dir, `train-labels-idx1-ubyte${gz ? '.gz' : ''}`);
      await writeIdx(imgFile, [n, 3, 2], images);
      await writeIdx(lblFile, [n], labels);
      const head = await readFile(imgFile);
      expect(head[0] === 0x1f && head[1] === 0x8b).toBe(gz);
      const ds = await readIdx(imgFile);
      expect(ds.items.map((i) => i.id)).toEqual(['idx:0', 'idx:1', 'idx:2', 'idx:3', 'idx:4']);
      expect(ds.items.map((i) => i.labels)).toEqual([['tshirt_top'], ['ankle_boot'], ['bag'], ['tshirt_top'], ['dress']]);
      ds.items.forEach((item, i) => {
        const raw = item.source as RawImage;
        expect([raw.width, raw.height, raw.channels]).toEqual([2, 3, 1]);
        expect(Array.from(raw.data)).toEqual(Array.from(images.subarray(i * 6, (i + 1) * 6)));
      });
      expect(ds.classes).toEqual([...FASHION_MNIST_CLASSES].sort());
      expect(ds.multiLabel).toBe(false);
    }
  });

  it('Fashion-MNIST names are folder-safe', () => {
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
    for (const c of FASHION_MNIST_CLASSES) expect(c).toMatch(/^[a-z_]+$/);
  });

  it('takes an explicit labels file, class names, offset and limit', async () => {
    const imgFile = path.join(dir, 'pics.idx');
    const lblFile = path.join(dir, 'tags.idx');
    await writeIdx(imgFile, [n, 3, 2], images);
    await writeIdx(lblFile, [n], Uint8Array.from([0, 1, 1, 0, 1]));
    const ds = await readIdx(imgFile, lblFile, { classNames: ['no', 'yes'], offset: 1, limit: 3 });
    expect(ds.items.map((i) => [i.id, i.labels[0]])).toEqual([
      ['idx:1', 'yes'],
      ['idx:2', 'yes'],
      ['idx:3', 'no'],
    ]);
    expect(ds.classes).toEqual(['no', 'yes']);
    // The options-only form is the same call.
    expect(await readIdx(imgFile, { labels: lblFile, classNames: ['no', 'yes'], offset: 1, limit: 3 })).toEqual(ds);
    // Labels past 9 get numeric names when none are given.
    await writeIdx(lblFile, [n], Uint8Array.from([0, 11, 1, 0, 1]));
    expect((await readIdx(imgFile, lblFile)).classes).toEqual(Array.from({ length: 12 }, (_, i) => String(i)).sort());
    await expect(readIdx(imgFile, lblFile, { classNames: ['a', 'b'] })).rejects.toThrow(/label 11 has no class name \(2 given\)/);
  });

  it('reads colour images (N×rows×cols×3)', async () => {
    const rgb = Uint8Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => i);
    await writeIdx(path.join(dir, 'rgb-images-idx4-ubyte'), [2, 2, 2, 3], rgb);
    await writeIdx(path.join(dir, 'rgb-labels-idx1-ubyte'), [2], Uint8Array.from([1, 0]));
    const ds = await readIdx(path.join(dir, 'rgb-images-idx4-ubyte'));
    const raw = ds.items[1].source as RawImage;
    expect(raw.channels).toBe(3);
    expect(Array.from(raw.data)).toEqual(Array.from(rgb.subarray(12)));
  });

  it('refuses mismatched files with a reason', async () => {
    const imgFile = path.join(dir, 'mm-images-idx3-ubyte');
    await writeIdx(imgFile, [n, 3, 2], images);
    await writeIdx(path.join(dir, 'mm-labels-idx1-ubyte'), [3], Uint8Array.from([0, 1, 2]));
    await expect(readIdx(imgFile)).rejects.toThrow(/mm-labels-idx1-ubyte: expected 5 labels/);
    await writeFile(path.join(dir, 'flat-images-idx3-ubyte'), encodeIdx([30], images));
    await writeIdx(path.join(dir, 'flat-labels-idx1-ubyte'), [30], new Uint8Array(30));
    await expect(readIdx(path.join(dir, 'flat-images-idx3-ubyte'))).rejects.toThrow(/expected N×rows×cols/);
    await expect(readIdx(path.join(dir, 'lonely-images-idx3-ubyte'))).rejects.toThrow(/cannot read \(file not found\)/);
  });

  it('guesses the labels file by the usual naming', () => {
    expect(labelsFileFor('/d/train-images-idx3-ubyte')).toBe(path.join('/d', 'train-labels-idx1-ubyte'));
    expect(labelsFileFor('/d/t10k-images-idx3-ubyte.gz')).toBe(path.join('/d', 't10k-labels-idx1-ubyte.gz'));
    expect(labelsFileFor('/d/images.idx')).toBe(path.join('/d', 'labels.idx'));
    expect(() => labelsFileFor('/d/pics.idx')).toThrow(/cannot guess the labels file/);
  });
});

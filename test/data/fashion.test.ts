import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fashionClassPixels, writeFashionSample } from '../../src/data/fashion.js';
import { readClassFolders } from '../../src/data/folder.js';
import { readIdx } from '../../src/data/idx.js';
import { decodeToRgb } from '../../src/data/image.js';
import type { RawImage } from '../../src/data/types.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-fashion-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const names = async (root: string) => (await readClassFolders(root)).items.map((i) => path.basename(i.id));

describe('writeFashionSample', () => {
  it('writes 28×28 grey PNG class folders; train and test are disjoint and deterministic', async () => {
    const train = path.join(dir, 'train');
    const test = path.join(dir, 'test');
    const r = await writeFashionSample({ out: train, perClass: 3, split: 'train', classes: [0, 7] });
    await writeFashionSample({ out: test, perClass: 3, split: 'test', classes: [0, 7] });
    expect(r.classes).toEqual(['tshirt_top', 'sneaker']);
    expect(r.files).toHaveLength(6);
    expect(await readdir(train)).toEqual(['sneaker', 'tshirt_top']);
    const a = await names(train);
    const b = await names(test);
    expect(a).toEqual(['7_0.png', '7_1.png', '7_2.png', '0_0.png', '0_1.png', '0_2.png']);
    expect(a.filter((f) => b.includes(f))).toEqual([]);
    const last = fashionClassPixels(7).length - 1;
    expect(b).toContain(`7_${last}.png`);
    // The pixels are the package's pixels.
    const rgb = await decodeToRgb(path.join(train, 'sneaker', '7_1.png'), { size: 28, range: [0, 1], fit: 'fill' });
    expect(Array.from(rgb.filter((_, i) => i % 3 === 0))).toEqual(fashionClassPixels(7)[1]);
    // A second run writes the same bytes.
    const again = path.join(dir, 'again');
    await writeFashionSample({ out: again, perClass: 3, split: 'train', classes: [0, 7] });
    for (const f of r.files) expect((await readFile(f)).equals(await readFile(f.replace(train, again)))).toBe(true);
  });

  it('--idx writes IDX files of the same images, which decode exactly like the PNGs', async () => {
    const out = path.join(dir, 'idx');
    await writeFashionSample({ out, perClass: 2, split: 'test', classes: [3, 8], idx: true });
    const idx = await readIdx(path.join(out, 'images-idx3-ubyte'));
    const png = await readClassFolders(out);
    expect(idx.items.map((i) => i.labels[0])).toEqual(['dress', 'dress', 'bag', 'bag']);
    const spec = { size: 64, range: [0, 1] as [number, number], fit: 'cover' as const };
    for (const item of idx.items) {
      const k = item.labels[0] === 'dress' ? 3 : 8;
      const n = Number(item.id.slice(4));
      const index = fashionClassPixels(k).length - 2 + (n % 2);
      const file = png.items.find((p) => p.id === `${item.labels[0]}/${k}_${index}.png`);
      expect(file, item.id).toBeDefined();
      expect(Buffer.from(await decodeToRgb(item.source as RawImage, spec)).equals(Buffer.from(await decodeToRgb(file!.source as string, spec)))).toBe(true);
    }
  });

  it('refuses more per class than keeps train and test apart', async () => {
    await expect(writeFashionSample({ out: path.join(dir, 'big'), perClass: 4000, split: 'train', classes: [1] })).rejects.toThrow(/at most 3500 images per class keep train and test apart/);
  });
});

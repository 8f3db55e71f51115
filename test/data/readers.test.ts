import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readClassFolders } from '../../src/data/folder.js';
import { readCsv, parseCsv, DatasetError } from '../../src/data/csv.js';
import { encodeIdx, parseIdx, readIdx, writeIdx } from '../../src/data/idx.js';
import { loadDataset } from '../../src/data/index.js';

let dir = '';
const png = () => sharp({ create: { width: 4, height: 4, channels: 3, background: 'gray' } }).png().toBuffer();
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-readers-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('class folders', () => {
  it('reads classes and images, reporting every odd entry with its reason', async () => {
    const root = path.join(dir, 'folders');
    const img = await png();
    for (const f of ['cat/a.png', 'cat/sub/b.png', 'dog.v2/c.PNG', 'dog.v2/ü n i.png', 'dog.v2/-dash.png']) {
      await mkdir(path.dirname(path.join(root, f)), { recursive: true });
      await writeFile(path.join(root, f), img);
    }
    await mkdir(path.join(root, 'empty'), { recursive: true });
    await writeFile(path.join(root, 'cat', '.DS_Store'), 'x');
    await writeFile(path.join(root, 'cat', 'notes.txt'), 'x');
    await writeFile(path.join(root, 'stray.png'), img);
    await symlink(path.join(root, 'cat'), path.join(root, 'cat', 'sub', 'loop'));
    const ds = await readClassFolders(root);
    expect(ds.classes).toEqual(['cat', 'dog.v2']);
    expect(ds.items.map((i) => i.id)).toEqual(['cat/a.png', 'cat/sub/b.png', 'dog.v2/-dash.png', 'dog.v2/c.PNG', 'dog.v2/ü n i.png']);
    expect(ds.items.every((i) => i.labels.length === 1)).toBe(true);
    const reasons = Object.fromEntries(ds.skipped.map((s) => [path.relative(root, s.source), s.reason]));
    expect(reasons['empty']).toMatch(/empty class folder/);
    expect(reasons['stray.png']).toMatch(/not inside a class folder/);
    expect(reasons['cat/notes.txt']).toMatch(/not an image file \(\.txt\)/);
    expect(reasons['cat/sub/loop']).toMatch(/symlink loop/);
    expect(Object.keys(reasons).some((k) => k.includes('.DS_Store'))).toBe(false);
  });
});

describe('CSV', () => {
  it('parses RFC-4180 quoting and multi-label rows', async () => {
    const root = path.join(dir, 'csv');
    await mkdir(path.join(root, 'img'), { recursive: true });
    for (const f of ['a.png', 'b, c.png', 'd.png']) await writeFile(path.join(root, 'img', f), await png());
    const file = path.join(root, 'labels.csv');
    await writeFile(file, 'labels,path\r\ncat,img/a.png\n"cat|dog","img/b, c.png"\n\n dog ,img/d.png\nbird,img/missing.png\n,img/a.png\n');
    const ds = await readCsv(file);
    expect(ds.items.map((i) => [i.id, i.labels])).toEqual([
      ['img/a.png', ['cat']],
      ['img/b, c.png', ['cat', 'dog']],
      ['img/d.png', ['dog']],
    ]);
    expect(ds.multiLabel).toBe(true);
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/^labels\.csv:6: file not found: img\/missing\.png/), expect.stringMatching(/^labels\.csv:7: empty label/)]);
  });

  it('bad quoting and a missing header are errors naming the file and line', async () => {
    expect(() => parseCsv('path,labels\n"a.png,cat\n', 'x.csv')).toThrow(/x\.csv:2: unterminated/);
    expect(() => parseCsv('path,labels\na"b.png,cat\n', 'x.csv')).toThrow(/x\.csv:2: a quote inside/);
    const file = path.join(dir, 'nohead.csv');
    await writeFile(file, 'a.png,cat\n');
    await expect(readCsv(file)).rejects.toThrow(DatasetError);
    await expect(readCsv(file)).rejects.toThrow(/nohead\.csv:1: the header must name/);
  });
});

describe('IDX', () => {
  it('round-trips, gzip included, with Fashion-MNIST class names', async () => {
    const n = 3;
    const images = Uint8Array.from({ length: n * 4 }, (_, i) => i * 10);
    for (const gz of [false, true]) {
      const imgFile = path.join(dir, `t-images-idx3-ubyte${gz ? '.gz' : ''}`);
      const lblFile = path.join(dir, `t-labels-idx1-ubyte${gz ? '.gz' : ''}`);
      await writeIdx(imgFile, [n, 2, 2], images);
      await writeIdx(lblFile, [n], Uint8Array.from([0, 9, 8]));
      const ds = await readIdx(imgFile);
      expect(ds.items.map((i) => i.labels[0])).toEqual(['tshirt_top', 'ankle_boot', 'bag']);
      const raw = ds.items[1].source as { data: Uint8Array; width: number };
      expect(Array.from(raw.data)).toEqual([40, 50, 60, 70]);
      expect(raw.width).toBe(2);
      expect((await loadDataset(imgFile)).items).toHaveLength(3);
    }
    expect(() => parseIdx(Buffer.from([1, 2, 3, 4]), 'bad')).toThrow(/bad: not an IDX file/);
    expect(() => parseIdx(encodeIdx([5, 2, 2], new Uint8Array(20)).subarray(0, 20), 'short')).toThrow(/short: IDX data truncated/);
  });
});

describe('loadDataset', () => {
  it('names what it accepts when given something else', async () => {
    const f = path.join(dir, 'x.json');
    await writeFile(f, '{}');
    await expect(loadDataset(f)).rejects.toThrow(/folder with one subfolder per class, a \.csv/);
    await expect(loadDataset(path.join(dir, 'nope'))).rejects.toThrow(/no such file or folder/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDataset, DatasetError, writeIdx } from '../../src/data/index.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-load-'));
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'gray' } }).png().toBuffer();
  await mkdir(path.join(dir, 'folders', 'cat'), { recursive: true });
  await writeFile(path.join(dir, 'folders', 'cat', 'a.png'), png);
  await writeFile(path.join(dir, 'labels.CSV'), 'path,labels\nfolders/cat/a.png,cat|pet\n');
  await writeIdx(path.join(dir, 't10k-images-idx3-ubyte.gz'), [2, 1, 1], Uint8Array.from([1, 2]));
  await writeIdx(path.join(dir, 't10k-labels-idx1-ubyte.gz'), [2], Uint8Array.from([5, 6]));
  await writeIdx(path.join(dir, 'pics.idx'), [1, 1, 1], Uint8Array.from([9]));
  await writeIdx(path.join(dir, 'tags.idx'), [1], Uint8Array.from([1]));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('loadDataset', () => {
  it('dispatches a folder, a CSV and an IDX images file to their readers', async () => {
    expect((await loadDataset(path.join(dir, 'folders'))).items.map((i) => i.id)).toEqual(['cat/a.png']);
    expect((await loadDataset(path.join(dir, 'labels.CSV'))).multiLabel).toBe(true);
    expect((await loadDataset(path.join(dir, 't10k-images-idx3-ubyte.gz'))).items.map((i) => i.labels[0])).toEqual(['sandal', 'shirt']);
    const explicit = await loadDataset(path.join(dir, 'pics.idx'), { labels: path.join(dir, 'tags.idx'), idx: { classNames: ['a', 'b'] } });
    expect(explicit.items.map((i) => i.labels)).toEqual([['b']]);
  });

  it('names what it accepts when given something else', async () => {
    const f = path.join(dir, 'x.json');
    await writeFile(f, '{}');
    await expect(loadDataset(f)).rejects.toThrow(DatasetError);
    await expect(loadDataset(f)).rejects.toThrow(/x\.json: not a dataset; give a folder with one subfolder per class, a \.csv with path,labels columns, or an IDX images file/);
    await expect(loadDataset(path.join(dir, 'nope'))).rejects.toThrow(/nope: no such file or folder/);
  });
});

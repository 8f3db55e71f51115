/**
 * Bad input that is not an image: CSV datasets with missing files, unknown or empty labels and bad
 * quoting; flag and config values out of range. Every one is a one-line message naming the file
 * and line, or the flag / field, the value and what is allowed.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { parseCsv, readCsv } from '../../src/data/csv.js';
import { precompute } from '../../src/jobs/precompute.js';
import { CacheMismatchError, FeatureCache, makeHeader } from '../../src/cache/index.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/cli/config.js';
import { trainHead, type TrainArgs } from '../../src/train/trainer.js';
import { synthetic } from './synthetic.js';

let dir = '';
beforeAll(async () => {
  dir = await tempDir('inputs');
  await mkdir(path.join(dir, 'img', 'sub'), { recursive: true });
  for (const [f, colour] of [['a.png', 'red'], ['b.png', 'blue'], ['c.jpg', 'green'], ['-d.png', 'gray']] as const) {
    const img = sharp({ create: { width: 12, height: 12, channels: 3, background: colour } });
    await writeFile(path.join(dir, 'img', f), await (f.endsWith('.jpg') ? img.jpeg() : img.png()).toBuffer());
  }
  await writeFile(path.join(dir, 'img', 'fake.png'), 'not a png\n');
});

describe('CSV datasets through precompute', () => {
  const rows = [
    'path,labels', //                  1
    'img/a.png,cat', //                2
    'img/b.png,dog', //                3
    'img/missing.png,cat', //          4  file not found
    'img/c.jpg,', //                   5  empty label
    'img/c.jpg, ', //                  6  blank label
    'img/c.jpg,cat|', //               7  empty label after |
    'img/c.jpg,dog,extra', //          8  too many fields
    'img/sub,cat', //                  9  a folder
    'img/a.png,dog', //                10 listed twice
    'img/fake.png,cat', //             11 not an image: skipped at decode time, naming the file
    '"img/-d.png",dog', //             12 fine: quoted, leading dash
  ];

  it('bad rows are skipped with file:line reasons, decode failures name the file; the rest is cached', async () => {
    const csv = path.join(dir, 'labels.csv');
    await writeFile(csv, `\ufeff${rows.join('\r\n')}\r\n`);
    const r = await precompute({ data: csv, cache: path.join(dir, 'cache'), workers: 1, backend: 'wasm', progress: false });
    expect(r.total).toBe(3);
    expect(r.skipped.map((s) => s.reason)).toEqual([
      'labels.csv:4: file not found: img/missing.png',
      'labels.csv:5: empty label for img/c.jpg',
      'labels.csv:6: empty label for img/c.jpg',
      'labels.csv:7: empty label for img/c.jpg',
      'labels.csv:8: 3 fields, the header has 2',
      'labels.csv:9: is a directory: img/sub',
      'labels.csv:10: img/a.png is listed twice; the first row is used',
      'not an image (unrecognised format)',
    ]);
    expect(r.skipped[7].source).toBe(path.join(dir, 'img', 'fake.png'));
    expect(r.header.classes).toEqual(['cat', 'dog']);
  });

  it('a label the existing cache does not know (or a switch to multi-label) is refused, naming it', async () => {
    const cache = path.join(dir, 'cache');
    const csv = path.join(dir, 'more.csv');
    await writeFile(csv, ['path,labels', 'img/a.png,cat', 'img/b.png,dog', 'img/c.jpg,bird'].join('\n'));
    const err = (await precompute({ data: csv, cache, workers: 1, backend: 'wasm', progress: false }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect(err.message).toMatch(/class vocabulary differs: extra 'bird'$/);
    await writeFile(csv, ['path,labels', 'img/a.png,cat|dog', 'img/b.png,dog'].join('\n'));
    const err2 = (await precompute({ data: csv, cache, workers: 1, backend: 'wasm', progress: false }).catch((e: Error) => e)) as Error;
    expect(err2.message).toMatch(/label mode differs: single-label vs multi-label$/);
    const c = FeatureCache.open(cache, { readonly: true });
    expect(c.count).toBe(3);
    await c.close();
  });

  it.each([
    ['a quote inside a field', 'path,labels\nimg/a.png,c"at\n', /^x\.csv:2: a quote inside an unquoted field/],
    ['text after a closing quote', 'path,labels\nimg/a.png,"cat"s\n', /^x\.csv:2: text after a closing quote/],
    ['an unterminated quote spanning lines', 'path,labels\nimg/a.png,cat\n"img/b.png,dog\nimg/c.jpg,cat\n', /^x\.csv:3: unterminated quoted field/],
    ['a quote opening mid-field after a multi-line field', 'path,labels\n"img/\na.png",cat\nimg/b.png,d"og\n', /^x\.csv:4: a quote inside an unquoted field/],
  ])('%s is an error naming the line', (_name, text, pattern) => {
    expect(() => parseCsv(text, 'x.csv')).toThrow(pattern);
  });

  it('a CSV without the two columns, or a binary file named .csv, is one line naming the file', async () => {
    const bin = path.join(dir, 'photo.csv');
    await writeFile(bin, await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).png().toBuffer());
    const err = (await readCsv(bin).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/photo\.csv/);
    expect(err.message.split('\n')).toHaveLength(1);
    const cols = path.join(dir, 'cols.csv');
    await writeFile(cols, 'file,class\nimg/a.png,cat\n');
    await expect(readCsv(cols)).rejects.toThrow(/cols\.csv:1: the header must name a "path" and a "labels" column; got "file,class"/);
  });
});

describe('flags and config values', () => {
  let stderr: string[] = [];
  const capture = () => {
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      stderr.push(String(s));
      return true;
    });
  };
  afterEach(() => vi.restoreAllMocks());
  /** The CLI in this process; returns the exit code and the `mixhead:` lines. */
  const cli = async (...args: string[]) => {
    capture();
    const code = await main(['node', 'mixhead', ...args]);
    vi.restoreAllMocks();
    return { code, lines: stderr.join('').split('\n').filter((l) => l.startsWith('mixhead:')) };
  };

  it.each([
    [['train', '--batch-size', '0'], /--batch-size 0: use a whole number ≥ 1/],
    [['train', '--epochs', '-3'], /--epochs -3: use a whole number ≥ 1/],
    [['train', '--alpha', '-0.5'], /--alpha -0.5: use a number ≥ 0/],
    [['train', '--alpha', 'abc'], /--alpha abc: use a number ≥ 0/],
    [['train', '--cutmix-alpha', '-1'], /--cutmix-alpha -1: use a number ≥ 0/],
    [['train', '--mix-prob', '1.5'], /--mix-prob 1\.5: use a number in \[0, 1\]/],
    [['train', '--mix-at', 'output'], /--mix-at output: use one of features, hidden, input/],
    [['train', '--head', 'resnet'], /--head resnet: use one of linear, mlp, conv/],
    [['train', '--valid-split', '1'], /--valid-split 1: use a number between 0 and 1/],
    [['train', '--lr', '0'], /--lr 0: use a number > 0/],
    [['precompute', '--data', '.', '--cache', 'c', '--shard', '3/2'], /--shard 3\/2: use i\/n with 0 ≤ i < n/],
    [['precompute', '--data', '.', '--cache', 'c', '--shard', '1/0'], /--shard 1\/0: use i\/n with 0 ≤ i < n/],
    [['precompute', '--data', '.', '--cache', 'c', '--shard', '-1/2'], /--shard -1\/2: use i\/n/],
    [['precompute', '--data', '.', '--cache', 'c', '--shard', 'half'], /--shard half: use i\/n/],
    [['precompute', '--data', '.', '--cache', 'c', '--batch-size', '0'], /--batch-size 0: use a whole number ≥ 1/],
    [['precompute', '--data', '.', '--cache', 'c', '--dtype', 'float64'], /--dtype float64: use one of float32, float16, uint8/],
    [['precompute', '--data', '.', '--cache', 'c', '--fit', 'crop'], /--fit crop: use one of cover, contain, fill/],
  ])('%j exits 2 with one line naming the value', async (args, pattern) => {
    const full = args[0] === 'train' ? [...args, '--cache', dir, '--out', path.join(dir, 'never')] : args;
    const r = await cli(...full);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(pattern);
  });

  it.each([
    [{ mixup: { alpha: -1 } }, /mixup\.alpha = -1: use a number ≥ 0/],
    [{ batchSize: 0 }, /batchSize = 0: use a whole number ≥ 1/],
    [{ head: 'resnet' }, /head = "resnet": use one of linear, mlp, conv/],
    [{ mixAt: 'output' }, /mixAt = "output": use one of features, hidden, input/],
    [{ alpha: 0.4 }, /unknown option 'alpha'; valid options: head, /],
    [{ mixup: { alfa: 0.4 } }, /mixup: unknown option 'alfa'; valid options: alpha, /],
    [{ epochs: '10' }, /epochs = "10": use a whole number ≥ 1/],
  ])('config %j: exit 2, one line naming the file, the field and the value', async (value, pattern) => {
    const file = path.join(dir, 'run.json');
    await writeFile(file, JSON.stringify(value));
    const r = await cli('train', '--cache', dir, '--out', path.join(dir, 'never'), '--config', file);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(new RegExp(`^mixhead: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(r.lines[0]).toMatch(pattern);
  });

  it('a config that is not JSON, or not there, is one line', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"head": "mlp",}');
    await expect(loadConfig(file)).rejects.toThrow(/broken\.json: not valid JSON/);
    expect((await cli('train', '--cache', dir, '--out', dir, '--config', file)).lines).toEqual([expect.stringMatching(/broken\.json: not valid JSON/)]);
    expect((await cli('train', '--cache', dir, '--out', dir, '--config', path.join(dir, 'nope.json'))).lines).toEqual([expect.stringMatching(/nope\.json: no such file or directory/)]);
  });

  it.each<[TrainArgs, RegExp]>([
    [{ mixup: { alpha: -1 } }, /^mixup\.alpha = -1: use a number ≥ 0$/],
    [{ mixup: { alpha: Number.NaN } }, /^mixup\.alpha = NaN: use a number ≥ 0$/],
    [{ batchSize: 0 }, /^batchSize = 0: use a whole number ≥ 1$/],
    [{ head: 'resnet' as TrainArgs['head'] }, /^head = "resnet": use one of linear, mlp, conv$/],
    [{ mixAt: 'output' as TrainArgs['mixAt'] }, /^mixAt = "output": use one of features, hidden, input$/],
    [{ mixup: { excludeClasses: ['nope'] } }, /excludeClasses: unknown class "nope"; classes are "a", "b", "c"/],
    [{ mixup: { prob: 2 } }, /^mixup\.prob = 2: use a number in \[0, 1\]$/],
    [{ mixAt: 'hidden', mixup: { cutmixAlpha: 1 } }, /cutmixAlpha > 0 .* needs mixAt "features", not "hidden"/],
  ])('the library refuses %j before training, in one line', async (args, pattern) => {
    const err = (await trainHead(synthetic(12), null, { epochs: 1, ...args }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(pattern);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('train --exclude-classes with a class the cache lacks is one line naming it', async () => {
    const cache = path.join(dir, 'crafted');
    const c = FeatureCache.create(cache, makeHeader({ backbone: { id: 't', weightsHash: 'h', cut: 'c', kind: 'graph' }, preprocess: { size: 8, range: [0, 1], fit: 'cover' }, featureShape: [1, 1, 4], dtype: 'float32', classes: ['a', 'b'], multiLabel: false }));
    c.putMany([0, 1, 2, 3].map((i) => ({ key: `k${i}`, id: `i${i}`, source: 's', labels: [i % 2 ? 'a' : 'b'], features: new Float32Array(4).fill(i) })));
    await c.close();
    const r = await cli('train', '--cache', cache, '--out', path.join(dir, 'excl'), '--exclude-classes', 'a,nope', '--epochs', '1', '--no-combined');
    expect(r.code).not.toBe(0);
    expect(r.lines).toEqual([expect.stringMatching(/excludeClasses: unknown class "nope"; classes are "a", "b"/)]);
  });

  it('compare --alphas 0,-1 exits 2 with one line naming the value', async () => {
    const r = await cli('compare', '--cache', dir, '--out', path.join(dir, 'never'), '--alphas', '0,-1');
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([expect.stringMatching(/--alphas -1/)]);
  });
});

/**
 * A cache folder whose data.mdb is not what it should be (another file, random bytes, an empty file
 * from an interrupted create, an incomplete copy) is refused with one line; it never crashes the
 * process (lmdb-js itself segfaults on such files, so they are checked before lmdb maps them).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { FeatureCache, makeHeader } from '../../src/cache/index.js';
import { errorLines, mixheadChild, stackLines } from './child.js';

function openInChild(dirs: string[], write = false): Promise<{ signal: NodeJS.Signals | null; results: { dir: string; count?: number; error?: string }[] }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/faults/open-child.ts', ...dirs, ...(write ? ['--write'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (_code, signal) => resolve({ signal, results: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
  });
}

let dir = '';
let good = '';
const cases: Record<string, string> = {};
beforeAll(async () => {
  dir = await tempDir('corrupt');
  good = path.join(dir, 'good');
  const c = FeatureCache.create(good, makeHeader({ backbone: { id: 't', weightsHash: 'h', cut: 'c', kind: 'graph' }, preprocess: { size: 8, range: [0, 1], fit: 'cover' }, featureShape: [2, 2, 1000], dtype: 'float32', classes: ['a'], multiLabel: false }));
  c.putMany(Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, id: `i${i}`, source: `s${i}`, labels: ['a'], features: new Float32Array(4000).fill(i) })));
  await c.close();
  const make = async (name: string, body: Buffer | string | null) => {
    const d = path.join(dir, name);
    await mkdir(d);
    if (body !== null) await writeFile(path.join(d, 'data.mdb'), body);
    cases[name] = d;
  };
  let s = 12345;
  await make('random', Buffer.from(Array.from({ length: 10000 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24)));
  await make('text', 'this is not a database\n');
  await make('empty', Buffer.alloc(0));
  await make('zeros', Buffer.alloc(64 * 1024));
  const full = await readFile(path.join(good, 'data.mdb'));
  await make('truncated', full.subarray(0, full.length >> 1));
  await make('meta-only', full.subarray(0, 8192));
  await mkdir(path.join(dir, 'copy'));
  await copyFile(path.join(good, 'data.mdb'), path.join(dir, 'copy', 'data.mdb'));
  cases.copy = path.join(dir, 'copy');
});

describe('corrupt cache files', () => {
  it('opening each read-only: refused in one line naming the folder and what is wrong; a whole copy opens', async () => {
    const r = await openInChild(Object.values(cases));
    expect(r.signal).toBeNull();
    const by = Object.fromEntries(r.results.map((x) => [path.basename(x.dir), x]));
    expect(by.random.error).toMatch(/random is not a readable mixhead feature cache: data\.mdb has no LMDB signature \(10000 bytes\)/);
    expect(by.text.error).toMatch(/data\.mdb has no LMDB signature \(23 bytes\)/);
    expect(by.zeros.error).toMatch(/data\.mdb has no LMDB signature/);
    expect(by.empty.error).toMatch(/data\.mdb is empty \(a cache whose creation was interrupted/);
    expect(by.truncated.error).toMatch(/data\.mdb is truncated \(\d+ bytes; its last transaction uses \d+\): an incomplete copy\?/);
    expect(by['meta-only'].error).toMatch(/data\.mdb is truncated/);
    expect(by.copy).toEqual({ dir: cases.copy, count: 30 });
    for (const x of r.results) if (x.error) expect(x.error.split('\n')).toHaveLength(1);
  });

  it('writing: a corrupt file is refused and left as it was; an empty one (interrupted create) is initialised', async () => {
    const before = (await stat(path.join(cases.random, 'data.mdb'))).size;
    const r = await openInChild([cases.random, cases.empty], true);
    expect(r.signal).toBeNull();
    expect(r.results[0].error).toMatch(/has no LMDB signature/);
    expect((await stat(path.join(cases.random, 'data.mdb'))).size).toBe(before);
    expect(r.results[1]).toEqual({ dir: cases.empty, count: 0 });
  });

  it('mixhead inspect on a corrupt cache: exit 1, one line, no stack', async () => {
    const r = await mixheadChild(['inspect', cases.truncated]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^mixhead: .*truncated is not a readable mixhead feature cache: data\.mdb is truncated/)]);
    expect(stackLines(r.stderr)).toEqual([]);
  });
});

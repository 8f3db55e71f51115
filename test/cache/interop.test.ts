// Other tools can read a cache: the Python snippets in docs/cache.md are run as written, against
// caches of every dtype, and must see what CacheReader sees.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheReader, FeatureCache, exportCache, npyHeader } from '../../src/cache/index.js';
import { cleanTempDirs, makeEntries, prng, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

const root = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(root, 'docs', 'cache.md'), 'utf8');
function snippet(name: string): string {
  const m = new RegExp(`<!-- snippet: ${name} -->\\s*\`\`\`python\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/cache.md has no snippet ${name}`);
  return m[1]!;
}

function findPython(modules: string[]): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}
const pyNumpy = findPython(['numpy']);
const pyLmdb = findPython(['numpy', 'lmdb']);
const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

/** liblmdb built from lmdb-js's bundled sources (data format 2), as docs/cache.md tells. */
function buildLmdb(): string {
  const out = tempDir('mixhead-lmdb2-');
  const src = join(root, 'node_modules', 'lmdb', 'dependencies', 'lmdb', 'libraries', 'liblmdb');
  execFileSync('cc', ['-O1', '-fPIC', '-shared', '-DMDB_MAXKEYSIZE=0', '-w', `-I${src}`, ...['mdb.c', 'midl.c', 'chacha8.c'].map((f) => join(src, f)),
    '-o', join(out, 'liblmdb.so.0'), '-Wl,-soname,liblmdb.so.0', '-lpthread']);
  return out;
}

async function sample(dtype: 'float32' | 'float16' | 'uint8') {
  const dir = tempDir();
  const h = testHeader({}, dtype);
  const c = FeatureCache.create(dir, h);
  c.putMany(makeEntries(prng(31), 7, 72, h.classes));
  await c.close();
  const r = CacheReader.open(dir);
  const all = r.loadAll();
  let sum = 0;
  for (const v of all) sum += v;
  const want = { count: r.size, shape: [r.size, 3, 3, 8], sum, first: Array.from(all.subarray(0, 8)), labels0: r.labelsOf(0) };
  await r.close();
  return { dir, want };
}

function runPython(py: string, code: string, arg: string, env: NodeJS.ProcessEnv = process.env) {
  return JSON.parse(execFileSync(py, ['-c', code, arg], { env, encoding: 'utf8' }));
}

function expectSame(got: { count: number; shape: number[]; sum: number; first: number[]; labels0: string[] }, want: typeof got) {
  expect(got.count).toBe(want.count);
  expect(got.shape).toEqual(want.shape);
  expect(got.labels0).toEqual(want.labels0);
  expect(got.sum).toBeCloseTo(want.sum, 3);
  got.first.forEach((v, i) => expect(v).toBeCloseTo(want.first[i]!, 5));
}

describe('reading a cache from Python', () => {
  it('npy header is NumPy format 1.0, padded to 64 bytes', () => {
    const h = npyHeader('float16', [7, 3, 3, 8]);
    expect(h.length % 64).toBe(0);
    expect(h.subarray(0, 8).toString('latin1')).toBe('\x93NUMPY\x01\x00');
    expect(h.toString('latin1')).toContain("{'descr': '<f2', 'fortran_order': False, 'shape': (7, 3, 3, 8), }");
  });

  it.skipIf(!pyNumpy)('the export snippet reads features.npy + manifest.json for every dtype', async () => {
    for (const dtype of ['float32', 'float16', 'uint8'] as const) {
      const { dir, want } = await sample(dtype);
      const out = tempDir();
      expect((await exportCache(dir, out)).count).toBe(7);
      expectSame(runPython(pyNumpy!, snippet('read-export'), out), want);
    }
  });

  it.skipIf(!pyLmdb || !hasCc)('the py-lmdb snippet reads the environment directly, with LMDB built from lmdb-js sources', async () => {
    const lib = buildLmdb();
    const env = { ...process.env, LD_LIBRARY_PATH: lib };
    for (const dtype of ['float32', 'float16', 'uint8'] as const) {
      const { dir, want } = await sample(dtype);
      expectSame(runPython(pyLmdb!, snippet('read-lmdb'), dir, env), want);
    }
    // And why the docs say so: the stock LMDB 0.9.x cannot open data format 2.
    const { dir } = await sample('float32');
    const stock = spawnSync(pyLmdb!, ['-c', snippet('read-lmdb'), dir], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: '' } });
    if (stock.status !== 0) expect(stock.stderr).toMatch(/MDB_INVALID/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { DecodePool } from '../../src/data/decode-pool.js';
import { decodeToRgb, ImageDecodeError } from '../../src/data/image.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { FeatureCache } from '../../src/cache/index.js';
import { tempDir } from '../tmp.js';

const spec = { size: 224, range: [0, 1] as [number, number], fit: 'cover' as const };
let dir = '';
let photo = '';
let pool: DecodePool;
beforeAll(async () => {
  dir = await tempDir('decode-pool');
  photo = path.join(dir, 'photo.jpg');
  await sharp({ create: { width: 1280, height: 960, channels: 3, background: { r: 200, g: 60, b: 20 } } })
    .composite([{ input: Buffer.from('<svg width="1280" height="960"><circle cx="500" cy="480" r="350" fill="#2a6"/></svg>') }])
    .jpeg({ quality: 90 })
    .toFile(photo);
  await writeFile(path.join(dir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  pool = new DecodePool(2);
});
afterAll(() => pool?.close());

const reasonOf = (p: Promise<unknown>) => p.then(() => 'decoded', (e: unknown) => (e instanceof ImageDecodeError ? e.reason : `not an ImageDecodeError: ${String(e)}`));

describe('DecodePool', () => {
  it('gives the bytes decodeToRgb gives on this thread: a path, a Buffer, raw pixels', async () => {
    const bytes = readFileSync(photo);
    const raw = { data: Uint8Array.from({ length: 300 * 200 * 3 }, (_, i) => (i * 31) & 255), width: 300, height: 200, channels: 3 };
    for (const source of [photo, bytes, raw]) {
      const here = await decodeToRgb(source, spec);
      const there = await pool.decode(source, spec, 'x');
      expect(Buffer.compare(Buffer.from(there), Buffer.from(here))).toBe(0);
    }
  });

  it('an image that cannot be used fails with the reason this thread would give, naming the file', async () => {
    for (const f of [path.join(dir, 'broken.jpg'), path.join(dir, 'missing.jpg'), dir]) {
      const want = await reasonOf(decodeToRgb(f, spec));
      expect(want).not.toBe('decoded');
      expect(await reasonOf(pool.decode(f, spec, f))).toBe(want);
    }
    const err = await pool.decode(path.join(dir, 'broken.jpg'), spec, 'label.jpg').catch((e: unknown) => e as ImageDecodeError);
    expect((err as ImageDecodeError).source).toBe('label.jpg');
  });
});

describe('precompute with decode threads', () => {
  it('writes the same cache as decoding on the main thread (MIXHEAD_DECODE_THREADS=0)', async () => {
    const data = path.join(dir, 'fashion');
    await writeFashionSample({ out: data, perClass: 2, split: 'train' });
    await writeFile(path.join(data, 'bag', 'photo.jpg'), readFileSync(photo));
    await writeFile(path.join(data, 'bag', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
    const caches: Record<string, { keys: string[]; features: Float32Array[]; skipped: unknown }> = {};
    for (const threads of ['0', '2']) {
      const cache = path.join(dir, `cache-${threads}`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/precompute.ts', '--data', data, '--cache', cache, '--batch-size', '8'], { env: { ...process.env, MIXHEAD_DECODE_THREADS: threads }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const c = FeatureCache.open(cache, { readonly: true });
      const metas = c.metas();
      caches[threads] = { keys: metas.map((m) => m.key), features: metas.map((m) => c.get(m.key)!.features), skipped: c.skipped() };
      await c.close();
    }
    expect(caches['2'].keys).toEqual(caches['0'].keys);
    expect(caches['2'].keys.length).toBe(21);
    caches['2'].features.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.buffer, f.byteOffset, f.byteLength), Buffer.from(caches['0'].features[i].buffer, caches['0'].features[i].byteOffset, caches['0'].features[i].byteLength))).toBe(0));
    expect(caches['2'].skipped).toEqual(caches['0'].skipped);
  });

  it('a decode thread that dies costs only its image, skipped with the reason; the run finishes', () => {
    const data = path.join(dir, 'fashion');
    const cache = path.join(dir, 'cache-crash');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/precompute.ts', '--data', data, '--cache', cache, '--batch-size', '8'], { env: { ...process.env, MIXHEAD_DECODE_THREADS: '2', MIXHEAD_TEST_DECODE_CRASH: 'photo.jpg' }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const c = FeatureCache.open(cache, { readonly: true });
    const skipped = c.skipped();
    const count = c.metas().length;
    void c.close();
    expect(count).toBe(20);
    expect(skipped.find((s) => s.source.endsWith('photo.jpg'))?.reason).toMatch(/^the decoding thread died on it twice/);
  });

  it('threads that die on every image end the run with one line instead of skipping everything', () => {
    const data = path.join(dir, 'fashion');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/precompute.ts', '--data', data, '--cache', path.join(dir, 'cache-dead'), '--batch-size', '8'], { env: { ...process.env, MIXHEAD_DECODE_THREADS: '2', MIXHEAD_TEST_DECODE_CRASH: '*' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => /^mixhead:/.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/image decoding threads keep dying/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

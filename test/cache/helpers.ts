// Shared test fixtures: a seeded PRNG, a small header, temporary cache directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/base/random.js';
import { makeHeader, type CacheDtype, type CacheHeader, type CacheHeaderInit } from '../../src/cache/index.js';

/** Seeded uniform [0, 1) draws from the project's generator (src/base/random.ts). */
export function prng(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.uniform();
}

/** A ReLU6-like map: about a third zeros, the rest uniform in (0, 6]. */
export function randomMap(rand: () => number, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rand() < 0.35 ? 0 : rand() * 6;
  return x;
}

export function testHeader(overrides: Partial<CacheHeaderInit> = {}, dtype: CacheDtype = 'float32'): CacheHeader {
  return makeHeader({
    backbone: { id: 'bundled-mobilenet-v2', weightsHash: '1a2b3c4d5e6f7a8b9c0d', cut: 'out_relu', kind: 'layers' },
    preprocess: { size: 224, range: [0, 1], fit: 'cover' },
    featureShape: [3, 3, 8],
    dtype,
    classes: ['bag', 'shirt', 'sneaker'],
    multiLabel: false,
    ...overrides,
  });
}

const made: string[] = [];
export function tempDir(prefix = 'mixhead-cache-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
export function cleanTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function makeEntries(rand: () => number, n: number, size: number, classes: string[], prefix = 'img') {
  return Array.from({ length: n }, (_, i) => ({
    key: `k-${prefix}-${i}-${Math.floor(rand() * 1e9).toString(16)}`,
    id: `${prefix}/${i}.png`,
    source: `/data/${prefix}/${i}.png`,
    labels: [classes[i % classes.length]!],
    features: randomMap(rand, size),
  }));
}

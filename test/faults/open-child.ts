/**
 * Opens each cache given (read-only, then for writing with `--write`) and prints one JSON line per
 * cache: {dir, count} or {dir, error}. Run in a child because lmdb-js crashes its process on some
 * corrupt files: a crash shows up as the child's signal, not as a dead test runner.
 */
import { FeatureCache } from '../../src/cache/store.js';
import { makeHeader } from '../../src/cache/header.js';

const write = process.argv.includes('--write');
for (const dir of process.argv.slice(2).filter((a) => a !== '--write')) {
  try {
    const c = write
      ? FeatureCache.create(dir, makeHeader({ backbone: { id: 't', weightsHash: 'h', cut: 'c', kind: 'graph' }, preprocess: { size: 8, range: [0, 1], fit: 'cover' }, featureShape: [1, 1, 4], dtype: 'float32', classes: ['a'], multiLabel: false }))
      : FeatureCache.open(dir, { readonly: true });
    let n = 0;
    for (const m of c.metas()) if (c.get(m.key)) n++;
    await c.close();
    process.stdout.write(`${JSON.stringify({ dir, count: n })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ dir, error: (err as Error).message })}\n`);
  }
}

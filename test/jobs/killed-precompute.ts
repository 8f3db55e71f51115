/**
 * Helpers of the precompute kill tests: a precompute run in a child process that can be killed with
 * SIGKILL, and the cache such a kill leaves, opened read-only.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FeatureCache } from '../../src/cache/index.js';

/** Runs scripts/precompute.ts in a child; kills it with SIGKILL after `killAfterMs` if given. */
export function precomputeChild(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    // The decode threads are on (the path of any folder of 64 images or more), so kills land in them too.
    const p = spawn(process.execPath, ['--import', 'tsx', 'scripts/precompute.ts', ...args], { env: { ...process.env, MIXHEAD_BACKEND: 'wasm', MIXHEAD_DECODE_THREADS: '2' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', () => undefined);
    const timer = killAfterMs != null ? setTimeout(() => p.kill('SIGKILL'), killAfterMs) : undefined;
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

/**
 * The cache a killed precompute left, read-only; null when it holds nothing yet: the kill came
 * before the store existed, or between creating it and writing its header (src/cache/store.ts:
 * create() completes such a cache, open() names it header-less), and the rerun must finish it.
 */
export function openKilledCache(cacheDir: string): FeatureCache | null {
  if (!existsSync(path.join(cacheDir, 'data.mdb'))) return null;
  try {
    return FeatureCache.open(cacheDir, { readonly: true });
  } catch (err) {
    if (/no header|no '\w+' sub-database/.test(String(err))) return null;
    throw err;
  }
}

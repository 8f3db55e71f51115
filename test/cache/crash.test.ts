// kill -9 at random moments while a child writes: the cache must open, hold whole batches only,
// and resume.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheReader, FeatureCache, FeatureCodec } from '../../src/cache/index.js';
import { crashHeader, crashMap } from './fixtures/crash-data.js';
import { cleanTempDirs, prng, tempDir } from './helpers.js';

afterAll(cleanTempDirs);

const fixture = join(import.meta.dirname, 'fixtures', 'writer.ts');
const BATCH = 8;
const SIZE = 7 * 7 * 64;

/** Runs the writer until `delayMs` after it is ready, SIGKILLs it, returns the last count it printed. */
function runAndKill(dir: string, delayMs: number): Promise<{ lastCommitted: number; resumedFrom: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', fixture, 'crash', dir, String(BATCH)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let lastCommitted = -1;
    let resumedFrom = -1;
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const m of buf.matchAll(/^committed (\d+)$/gm)) lastCommitted = Number(m[1]);
      const ready = /^ready (\d+)$/m.exec(buf);
      if (ready && resumedFrom < 0) {
        resumedFrom = Number(ready[1]);
        setTimeout(() => proc.kill('SIGKILL'), delayMs);
      }
    });
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code}`));
      else resolve({ lastCommitted: Math.max(lastCommitted, resumedFrom), resumedFrom });
    });
  });
}

describe('crash safety', () => {
  it('after SIGKILL mid-write the cache opens with whole batches only, and resumes', async () => {
    const dir = tempDir();
    const rand = prng(2024);
    const codec = new FeatureCodec('float16');
    const expected = new Float32Array(SIZE);
    let previous = 0;
    for (let round = 0; round < 4; round++) {
      const { lastCommitted, resumedFrom } = await runAndKill(dir, 50 + Math.floor(rand() * 400));
      expect(resumedFrom).toBe(previous); // the next run resumed exactly where the data ends
      const cache = FeatureCache.open(dir, { readonly: true });
      const count = cache.count;
      // Every batch the child saw committed is there; at most one more (committed, not yet printed).
      expect(count % BATCH).toBe(0);
      expect(count === lastCommitted || count === lastCommitted + BATCH).toBe(true);
      expect(count).toBeGreaterThan(previous);
      const index = cache.index();
      expect(index.size).toBe(count); // ids unique, one per entry
      await cache.close();
      previous = count;
    }
    const r = CacheReader.open(dir);
    expect(r.header).toEqual(crashHeader());
    const row = new Float32Array(SIZE);
    for (let i = 0; i < r.size; i++) {
      r.readRows([i], row);
      const n = Number(r.ids[i]!.slice(4));
      expect(r.keys[i]).toBe(`key-${String(n).padStart(8, '0')}`);
      expected.set(codec.decode(codec.encode(crashMap(n, SIZE))));
      // A plain loop: toEqual on thousands of 3136-value arrays takes most of a minute.
      let same = true;
      for (let j = 0; j < SIZE; j++) same &&= row[j] === expected[j];
      if (!same) expect.fail(`entry ${r.ids[i]} does not decode to what was written`);
    }
    console.log(`crash test: ${r.size} entries after 4 kills`);
    expect(new Set(r.ids).size).toBe(r.size);
    await r.close();
  });
});

// Shared helpers (docs/architecture.md, "Module map"): atomic writes and the pid check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../src/base/fs.js';
import { isProcessAlive } from '../../src/base/process.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-util-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('writes strings, and the bytes of any typed array', async () => {
    await writeFileAtomic(path.join(dir, 'a.txt'), 'hello');
    expect(await readFile(path.join(dir, 'a.txt'), 'utf8')).toBe('hello');
    const f = Float32Array.of(1.5, -2, 3);
    await writeFileAtomic(path.join(dir, 'f.bin'), f);
    const back = await readFile(path.join(dir, 'f.bin'));
    expect(back.byteLength).toBe(12);
    expect(Array.from(new Float32Array(back.buffer, back.byteOffset, 3))).toEqual([1.5, -2, 3]);
    // A view into a larger buffer writes only its own bytes.
    const big = Uint8Array.of(9, 8, 7, 6, 5);
    await writeFileAtomic(path.join(dir, 'v.bin'), big.subarray(1, 3));
    expect(Array.from(await readFile(path.join(dir, 'v.bin')))).toEqual([8, 7]);
  });

  it('replaces a file whole', async () => {
    const file = path.join(dir, 'r.json');
    await writeFileAtomic(file, 'x'.repeat(1000));
    await writeFileAtomic(file, '{}');
    expect(await readFile(file, 'utf8')).toBe('{}');
  });

  it('leaves no temporary behind when the write fails', async () => {
    const sub = path.join(dir, 'fail');
    await mkdir(path.join(sub, 'target'), { recursive: true });
    // The temporary is written, then the rename onto a directory fails.
    await expect(writeFileAtomic(path.join(sub, 'target'), 'data')).rejects.toThrow();
    expect(await readdir(sub)).toEqual(['target']);
  });
});

describe('isProcessAlive', () => {
  it('is true for this process and false for one that has exited', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.pid).toBeGreaterThan(0);
    expect(isProcessAlive(child.pid!)).toBe(false);
  });
});

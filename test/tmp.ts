import { afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
let registered = false;

/** A fresh temporary folder, removed when the test file ends. */
export async function tempDir(prefix: string): Promise<string> {
  if (!registered) {
    registered = true;
    afterAll(async () => {
      await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
    });
  }
  const dir = await mkdtemp(path.join(tmpdir(), `mixhead-${prefix}-`));
  made.push(dir);
  return dir;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheLockedError, FeatureCache, LOCK_FILE } from '../../src/cache/index.js';
import { cleanTempDirs, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

const fixture = join(import.meta.dirname, 'fixtures', 'writer.ts');

function child(args: string[]): { proc: ChildProcess; lines: string[]; line: (re: RegExp) => Promise<string>; done: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (s: string) => void }[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(l);
      for (const w of waiters.splice(0)) (w.re.test(l) ? w.resolve(l) : waiters.push(w));
    }
  });
  const done = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const hit = lines.find((l) => re.test(l));
      if (hit) return resolve(hit);
      waiters.push({ re, resolve });
      void done.then(() => reject(new Error(`child exited before printing ${re}: ${lines.join(' | ')}`)));
    });
  return { proc, lines, line, done };
}

describe('writer lock', () => {
  it('refuses a second writer in the same process, naming the pid; readers still open', async () => {
    const dir = tempDir();
    const first = FeatureCache.create(dir, testHeader());
    const err = (() => {
      try {
        FeatureCache.open(dir);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(CacheLockedError);
    expect(err!.message).toMatch(
      new RegExp(`^cache ${dir} is being written by pid ${process.pid} \\(started .+\\); wait for it or remove ${dir}/writer.lock if that process is gone$`),
    );
    const reader = FeatureCache.open(dir, { readonly: true });
    expect(reader.count).toBe(0);
    await reader.close();
    await first.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const second = FeatureCache.open(dir);
    await second.close();
  });

  it('refuses a writer in another process while the first holds it; takes over once that pid is dead', async () => {
    const dir = tempDir();
    const header = JSON.stringify(testHeader());
    const holder = child(['hold', dir, header]);
    await holder.line(/^ready$/);
    expect(() => FeatureCache.create(dir, testHeader())).toThrow(`is being written by pid ${holder.proc.pid}`);
    holder.proc.kill('SIGKILL');
    await holder.done;
    // The dead holder's lock is still on disk; the next writer takes it over with a notice.
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(holder.proc.pid);
    const notices: string[] = [];
    const c = FeatureCache.create(dir, testHeader(), { onNotice: (m) => notices.push(m) });
    expect(notices).toEqual([expect.stringMatching(new RegExp(`took over writer.lock left by pid ${holder.proc.pid} .*no longer running`))]);
    // Now a child process is the one refused.
    const tryer = child(['try', dir, header]);
    expect(await tryer.line(/^(refused|acquired)/)).toMatch(new RegExp(`^refused: cache ${dir} is being written by pid ${process.pid}`));
    await c.close();
  });

  it('treats a lock naming this pid but not held here as stale (pid reuse in containers)', async () => {
    const dir = tempDir();
    await FeatureCache.create(dir, testHeader()).close();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), startedAt: 'then', token: 'x' }));
    const notices: string[] = [];
    const c = FeatureCache.open(dir, { onNotice: (m) => notices.push(m) });
    expect(notices).toHaveLength(1);
    await c.close();
  });
});

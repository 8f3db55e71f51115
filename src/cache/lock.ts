/**
 * One writer per cache. lmdb already serialises write transactions between processes, so two
 * writers could not corrupt the file; the lock exists because a precompute run also keeps an
 * in-memory view (which keys are done, the skipped list it will replace), and a second run would
 * silently invalidate it. Readers take no lock.
 *
 * `<dir>/writer.lock` holds JSON {pid, host, startedAt, token}; it is created with O_EXCL so exactly
 * one process wins. A lock whose pid is gone (same host) is stale and is taken over with a notice.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../base/process.js';

export const LOCK_FILE = 'writer.lock';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
}

export class CacheLockedError extends Error {
  override readonly name = 'CacheLockedError';
  constructor(
    readonly dir: string,
    readonly holder: LockInfo,
  ) {
    const where = holder.host === hostname() ? '' : ` on host ${holder.host}`;
    super(
      `cache ${dir} is being written by pid ${holder.pid}${where} (started ${holder.startedAt}); ` +
        `wait for it or remove ${join(dir, LOCK_FILE)} if that process is gone`,
    );
  }
}

// Tokens of locks this process holds: lets us tell our own live lock from a dead process whose pid
// was reused by us (common in containers, where pids restart from 1).
const heldHere = new Map<string, string>(); // token → lock path
let exitHookInstalled = false;

function readLock(path: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A lock file cut short by a crash between create and write: treat as stale.
    return { pid: -1, host: hostname(), startedAt: 'unknown', token: '' };
  }
}

function isStale(info: LockInfo): boolean {
  if (info.host !== hostname()) return false; // cannot check another machine's pids: assume alive
  if (info.pid <= 0) return true;
  if (info.pid === process.pid) return !heldHere.has(info.token);
  return !isProcessAlive(info.pid);
}

export interface AcquireOptions {
  /** Where the stale-lock notice goes; default console.warn. */
  onNotice?: (message: string) => void;
  /**
   * Runs the stale-lock takeover exclusively across processes (the store passes an lmdb write
   * transaction), so two processes finding the same stale lock cannot both take it over.
   */
  exclusive?: <T>(fn: () => T) => T;
}

export class WriterLock {
  private released = false;

  private constructor(
    readonly path: string,
    readonly info: LockInfo,
  ) {}

  static acquire(dir: string, options: AcquireOptions = {}): WriterLock {
    const path = join(dir, LOCK_FILE);
    const info: LockInfo = {
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      token: randomBytes(8).toString('hex'),
    };
    const body = JSON.stringify(info);
    const tryCreate = (): boolean => {
      let fd: number;
      try {
        fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
      try {
        writeSync(fd, body);
      } finally {
        closeSync(fd);
      }
      return true;
    };
    const exclusive = options.exclusive ?? (<T>(fn: () => T): T => fn());
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryCreate()) return WriterLock.hold(path, info);
      const outcome = exclusive(() => {
        const holder = readLock(path);
        if (!holder) return 'retry' as const; // released meanwhile
        if (!isStale(holder)) return holder;
        unlinkSync(path);
        const ok = tryCreate();
        if (ok) {
          (options.onNotice ?? console.warn)(
            `cache ${dir}: took over ${LOCK_FILE} left by pid ${holder.pid} (started ${holder.startedAt}), which is no longer running`,
          );
        }
        return ok ? ('taken' as const) : ('retry' as const);
      });
      if (outcome === 'taken') return WriterLock.hold(path, info);
      if (outcome !== 'retry') throw new CacheLockedError(dir, outcome);
    }
    const holder = readLock(path);
    throw new CacheLockedError(dir, holder ?? { pid: -1, host: hostname(), startedAt: 'unknown', token: '' });
  }

  private static hold(path: string, info: LockInfo): WriterLock {
    heldHere.set(info.token, path);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // A process that ends without close() should not leave a lock for the next run to explain.
      process.on('exit', () => {
        for (const [token, p] of heldHere) releaseIfOurs(p, token);
      });
    }
    return new WriterLock(path, info);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.info.token);
    releaseIfOurs(this.path, this.info.token);
  }
}

function releaseIfOurs(path: string, token: string): void {
  // Only remove the file if it is still ours (it may have been removed and retaken by hand).
  const now = readLock(path);
  if (now && now.token === token) {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  }
}

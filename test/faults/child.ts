import { spawn, type SpawnOptions } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source (`node --import tsx scripts/cli-main.ts …` equivalent) in a child; never rejects. */
export function mixheadChild(args: string[], options: SpawnOptions = {}): Promise<ChildResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/faults/cli-child.ts', ...args], {
      ...options,
      env: { ...process.env, MIXHEAD_BACKEND: 'wasm', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => p.kill('SIGKILL'), 110_000);
    p.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The `mixhead:` error lines of a run's stderr. */
export const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('mixhead:'));
/** Lines that look like a stack trace. */
export const stackLines = (stderr: string) => stderr.split('\n').filter((l) => /^\s+at /.test(l));

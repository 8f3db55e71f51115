/** Process helpers shared by the cache lock and the checkpoint writer. */

/**
 * Whether a process with this pid exists on this machine. Signal 0 checks without sending;
 * EPERM means it exists but belongs to another user.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

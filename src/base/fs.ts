/**
 * Atomic file writes: the bytes go to a temporary sibling, are fsynced, and renamed over the
 * target, so a reader sees the old file or the new one, never half of one. The npm
 * `write-file-atomic` package (maintained by the npm CLI team) does the work; it removes its
 * temporary when the write fails and when the process exits mid-write.
 */
import writeFileAtomicLib from 'write-file-atomic';

/** Writes `data` to `file` atomically (temporary sibling, fsync, rename). */
export async function writeFileAtomic(file: string, data: string | ArrayBufferView): Promise<void> {
  // The package writes `data.length` items of a view: pass bytes, whatever the view's element type.
  const bytes = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await writeFileAtomicLib(file, bytes, { fsync: true });
}

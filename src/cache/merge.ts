/**
 * Merging shard caches (precompute --shard i/n) into one (docs/scale.md, "How the merge works").
 *
 * Headers must agree exactly (createdAt aside); the refusal names the shard and each difference.
 * Entries are unioned by key with their encoded bytes copied as they are, so a uint8 cache is not
 * quantized twice. Every input keeps its sub-databases sorted (LMDB order, bytewise), so the merge
 * is three streaming passes, each a k-way merge of k sorted cursors:
 *
 *   1. ids in id order: one id must map to one key in every input (and in the output, if it holds it);
 *   2. entries in key order: one key must hold one id;
 *   3. entries in key order again: each key the output lacks is copied, `batchSize` per transaction.
 *
 * Time is linear in the entries (times log k for the heap); memory holds k cursors and one batch,
 * never a table of all keys. Passes 1 and 2 write nothing, so a conflict leaves the output as it
 * was. A merge that is interrupted (killed, disk full) is rerun as it was: committed batches are
 * whole, and pass 3 skips the keys the output already holds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CacheMismatchError, compareHeaders } from './header.js';
import { LOCK_FILE } from './lock.js';
import { FeatureCache, parseEntryMeta, type EntryMeta, type SkippedItem } from './store.js';

export interface MergeOptions {
  /** Entries per write transaction (a rerun after a crash picks up where it stopped). Default 256. */
  batchSize?: number;
  onNotice?: (message: string) => void;
  /** Called after each committed batch: entries looked at so far in pass 3, and the inputs' total. */
  onProgress?: (done: number, total: number) => void;
}

export interface MergeResult {
  out: string;
  /** Entries in the output after the merge. */
  count: number;
  /** Entries each input contributed that the output did not hold yet. */
  added: number[];
  skipped: number;
}

/** One input's sorted stream, positioned at its current item. */
interface Cursor<T> {
  src: number;
  it: Iterator<T>;
  item: T;
  sortKey: Buffer;
}

/**
 * k-way merge of sorted streams: yields, in ascending `sortKeyOf` order, the group of items (one per
 * input at most, in input order) that share a sort key. A binary min-heap on (sort key, input).
 */
export function* mergeSorted<T>(streams: Iterable<T>[], sortKeyOf: (item: T) => Buffer): Generator<{ src: number; item: T }[]> {
  const heap: Cursor<T>[] = [];
  const less = (a: Cursor<T>, b: Cursor<T>): boolean => {
    const c = Buffer.compare(a.sortKey, b.sortKey);
    return c < 0 || (c === 0 && a.src < b.src);
  };
  const push = (c: Cursor<T>): void => {
    heap.push(c);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): Cursor<T> => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  const advance = (c: Cursor<T>): void => {
    const n = c.it.next();
    if (n.done) return;
    c.item = n.value;
    const k = sortKeyOf(n.value);
    if (Buffer.compare(k, c.sortKey) <= 0) throw new Error(`mergeSorted: input ${c.src} is not in ascending order`);
    c.sortKey = k;
    push(c);
  };
  streams.forEach((s, src) => {
    const it = s[Symbol.iterator]();
    const n = it.next();
    if (!n.done) push({ src, it, item: n.value, sortKey: sortKeyOf(n.value) });
  });
  while (heap.length) {
    const first = pop();
    const group = [{ src: first.src, item: first.item }];
    const key = first.sortKey;
    const done = [first];
    while (heap.length && heap[0]!.sortKey.equals(key)) {
      const c = pop();
      group.push({ src: c.src, item: c.item });
      done.push(c);
    }
    yield group;
    for (const c of done) advance(c);
  }
}

/** A notice when an input still has a writer's lock: it may be incomplete (a task still running, or one that died). */
function lockNotice(dir: string): string | undefined {
  const file = join(dir, LOCK_FILE);
  if (!existsSync(file)) return undefined;
  let who = 'a writer';
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number; host?: string; startedAt?: string };
    who = `pid ${info.pid} on ${info.host} (started ${info.startedAt})`;
  } catch {
    // an unreadable lock says the same thing
  }
  return `input ${dir} holds a writer lock of ${who}: it may still be running or have died; only its committed entries are merged (rerun the merge once its shard is finished)`;
}

export async function mergeCaches(out: string, inputs: string[], options: MergeOptions = {}): Promise<MergeResult> {
  if (inputs.length === 0) throw new Error('mergeCaches: no input caches given');
  const batchSize = options.batchSize ?? 256;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`mergeCaches: batchSize must be a whole number ≥ 1, got ${batchSize}`);
  const self = inputs.find((dir) => resolve(dir) === resolve(out));
  if (self) throw new Error(`cannot merge: the output ${out} is also an input; merge into a new folder`);
  const sources: FeatureCache[] = [];
  let existing: FeatureCache | undefined;
  let target: FeatureCache | undefined;
  try {
    for (const dir of inputs) sources.push(FeatureCache.open(dir, { readonly: true }));
    const first = sources[0]!;
    for (let i = 1; i < sources.length; i++) {
      const diff = compareHeaders(first.header, sources[i]!.header);
      if (diff.length) {
        throw new CacheMismatchError(inputs[i]!, diff, `cannot merge: input ${inputs[i]} differs from ${inputs[0]}: ${diff.join('; ')}`);
      }
    }
    for (const dir of inputs) {
      const notice = lockNotice(dir);
      if (notice) options.onNotice?.(notice);
    }
    // An output that exists already (a rerun, or merging into a cache) is checked read-only first.
    if (existsSync(join(out, 'data.mdb'))) {
      existing = FeatureCache.open(out, { readonly: true });
      const diff = compareHeaders(existing.header, first.header);
      if (diff.length) throw new CacheMismatchError(out, diff, `cannot merge: the output ${out} differs from ${inputs[0]}: ${diff.join('; ')}`);
    }

    // Pass 1: every id maps to one key.
    for (const group of mergeSorted(
      sources.map((s) => s.idRange()),
      (x) => x.id,
    )) {
      const { src, item } = group[0]!;
      for (const other of group.slice(1)) {
        if (!other.item.key.equals(item.key)) {
          throw new Error(
            `cannot merge: id ${item.id.toString('utf8')} has key ${item.key.toString('utf8')} in ${inputs[src]} but key ${other.item.key.toString('utf8')} in ${inputs[other.src]} ` +
              '(the file changed between shards, or two shards read different files under one id)',
          );
        }
      }
      const held = existing?.keyOfId(item.id.toString('utf8'));
      if (held !== undefined && held !== item.key.toString('utf8')) {
        throw new Error(`cannot merge: id ${item.id.toString('utf8')} has key ${held} in the output ${out} but key ${item.key.toString('utf8')} in ${inputs[src]}`);
      }
    }
    // Pass 2: every key holds one id.
    const total = { entries: 0 };
    for (const group of mergeSorted(
      sources.map((s) => s.entryRange()),
      (x) => x.key,
    )) {
      total.entries += group.length;
      const { src, item } = group[0]!;
      const id = parseEntryMeta(item.meta).id;
      for (const other of group.slice(1)) {
        const otherId = parseEntryMeta(other.item.meta).id;
        if (otherId !== id) throw new Error(`cannot merge: key ${item.key.toString('utf8')} holds id ${id} in ${inputs[src]} but id ${otherId} in ${inputs[other.src]}`);
      }
      const held = existing?.getMeta(item.key.toString('utf8'));
      if (held && held.id !== id) throw new Error(`cannot merge: key ${item.key.toString('utf8')} holds id ${held.id} in the output ${out} but id ${id} in ${inputs[src]}`);
    }
    await existing?.close();
    existing = undefined;

    // Pass 3: copy what the output lacks, in key order (LMDB appends at the end of its B-tree).
    const createOptions = options.onNotice ? { onNotice: options.onNotice } : {};
    target = FeatureCache.create(out, first.header, createOptions);
    const added = inputs.map(() => 0);
    let batch: { key: string; meta: EntryMeta; bytes: Uint8Array }[] = [];
    let seen = 0;
    const flush = (): void => {
      if (batch.length) target!.putEncodedMany(batch);
      batch = [];
      options.onProgress?.(seen, total.entries);
    };
    for (const group of mergeSorted(
      sources.map((s) => s.entryRange()),
      (x) => x.key,
    )) {
      seen += group.length;
      const { src, item } = group[0]!;
      const key = item.key.toString('utf8');
      if (target.has(key)) continue;
      const meta = parseEntryMeta(item.meta);
      const raw = sources[src]!.rawFeatures(item.key);
      if (!raw) continue; // an entry without features: nothing to copy
      // rawFeatures is only valid until the next read, so copy.
      batch.push({ key, meta, bytes: Uint8Array.from(raw) });
      added[src]!++;
      if (batch.length >= batchSize) flush();
    }
    flush();
    const skipped: SkippedItem[] = sources.flatMap((s) => s.skipped());
    target.recordSkipped(skipped);
    // uint8 clip totals: the inputs' counts describe the copied bytes (the worst error is kept).
    const stats = sources.map((s) => s.quantizationStats()).filter((q) => q !== undefined);
    if (stats.length) {
      target.replaceQuantizationStats({
        values: stats.reduce((a, q) => a + q.values, 0),
        clipped: stats.reduce((a, q) => a + q.clipped, 0),
        maxError: Math.max(...stats.map((q) => q.maxError)),
      });
    }
    return { out, count: target.count, added, skipped: skipped.length };
  } finally {
    await existing?.close();
    await target?.close();
    await Promise.all(sources.map((s) => s.close()));
  }
}

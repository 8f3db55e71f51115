/**
 * Merging shard caches (precompute --shard i/n) into one. Headers must agree exactly (createdAt
 * aside); entries are unioned by key with their encoded bytes copied as they are, so a uint8 cache
 * is not quantized twice. Every conflict is found before anything is written.
 */
import { CacheMismatchError, compareHeaders } from './header.js';
import { FeatureCache, type EntryMeta, type SkippedItem } from './store.js';

export interface MergeOptions {
  /** Entries per write transaction (a re-run after a crash picks up where it stopped). Default 256. */
  batchSize?: number;
  onNotice?: (message: string) => void;
}

export interface MergeResult {
  out: string;
  /** Entries in the output after the merge. */
  count: number;
  /** Entries each input contributed that the output did not hold yet. */
  added: number[];
  skipped: number;
}

export async function mergeCaches(out: string, inputs: string[], options: MergeOptions = {}): Promise<MergeResult> {
  if (inputs.length === 0) throw new Error('mergeCaches: no input caches given');
  const batchSize = options.batchSize ?? 256;
  const sources = inputs.map((dir) => FeatureCache.open(dir, { readonly: true }));
  let target: FeatureCache | undefined;
  try {
    const first = sources[0]!;
    for (let i = 1; i < sources.length; i++) {
      const diff = compareHeaders(first.header, sources[i]!.header);
      if (diff.length) {
        throw new CacheMismatchError(
          inputs[i]!,
          diff,
          `cannot merge: input ${inputs[i]} differs from ${inputs[0]}: ${diff.join('; ')}`,
        );
      }
    }

    // Plan: every id must map to one key across all inputs.
    const idToKey = new Map<string, { key: string; from: string }>();
    const keyToId = new Map<string, { id: string; from: string }>();
    const plans = sources.map((src, s) => {
      const todo: (EntryMeta & { key: string })[] = [];
      for (const m of src.metas()) {
        const seen = idToKey.get(m.id);
        if (seen && seen.key !== m.key) {
          throw new Error(
            `cannot merge: id ${m.id} has key ${seen.key} in ${seen.from} but key ${m.key} in ${inputs[s]} ` +
              '(the file changed between shards, or two shards read different files under one id)',
          );
        }
        const holder = keyToId.get(m.key);
        if (holder && holder.id !== m.id) {
          throw new Error(`cannot merge: key ${m.key} holds id ${holder.id} in ${holder.from} but id ${m.id} in ${inputs[s]}`);
        }
        if (seen) continue; // same id, same key: already planned from an earlier input
        idToKey.set(m.id, { key: m.key, from: inputs[s]! });
        keyToId.set(m.key, { id: m.id, from: inputs[s]! });
        todo.push(m);
      }
      return todo;
    });

    const createOptions = options.onNotice ? { onNotice: options.onNotice } : {};
    target = FeatureCache.create(out, first.header, createOptions);
    // The output may already hold entries (a resumed merge, or merging into an existing cache).
    for (const [id, { key }] of target.index()) {
      const planned = idToKey.get(id);
      if (planned && planned.key !== key) {
        throw new Error(`cannot merge: id ${id} has key ${key} in the output ${out} but key ${planned.key} in ${planned.from}`);
      }
    }

    const added: number[] = [];
    for (let s = 0; s < sources.length; s++) {
      const src = sources[s]!;
      let n = 0;
      let batch: { key: string; meta: EntryMeta; bytes: Uint8Array }[] = [];
      const flush = (): void => {
        if (batch.length) target!.putEncodedMany(batch);
        batch = [];
      };
      for (const m of plans[s]!) {
        if (target.has(m.key)) continue;
        const raw = src.rawFeatures(Buffer.from(m.key, 'utf8'));
        if (!raw) continue; // removed from the input while we ran
        // rawFeatures is only valid until the next read, so copy.
        batch.push({ key: m.key, meta: { id: m.id, source: m.source, labels: m.labels }, bytes: Uint8Array.from(raw) });
        n++;
        if (batch.length >= batchSize) flush();
      }
      flush();
      added.push(n);
    }
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
    await target?.close();
    await Promise.all(sources.map((s) => s.close()));
  }
}

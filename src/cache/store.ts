/**
 * FeatureCache: one lmdb environment per cache directory, with four named sub-databases
 * (layout in docs/cache.md). lmdb gives the crash safety docs/architecture.md ("Feature cache") asks for: each putMany is one
 * write transaction, committed synchronously with the default sync settings (no noSync: at ~15
 * images/s a flush per batch is free), so after kill -9 the environment opens with whole batches
 * only; after a power loss lmdb-js's overlappingSync may lose the last commits, never part of one.
 *
 *   meta      'header' → header JSON, 'skipped' → JSON list, 'quantStats' → JSON totals
 *   features  key → encoded activation map (codec.ts), nothing else
 *   entries   key → JSON {id, source, labels}
 *   ids       id → key (UTF-8); lets a changed file replace its old entry in the same transaction
 *
 * Every sub-database uses raw byte keys (`keyEncoding: 'binary'`, our own UTF-8) and raw byte values,
 * so the bytes on disk are exactly what the docs say, with no lmdb-js encodings in between.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { FeatureCodec, emptyQuantizationStats, type QuantizationStats } from './codec.js';
import { assertCompatible, featureSize, validateHeader, viewCount, type CacheHeader } from './header.js';
import { WriterLock, type AcquireOptions } from './lock.js';

/** One image's cached entry as the writer supplies it and get() returns it. */
export interface CacheEntry {
  /** Content key (precompute: sha256 of image bytes + preprocessing spec JSON). */
  key: string;
  /** Stable sample id, e.g. the path relative to the dataset root. */
  id: string;
  /** Where the image came from (path or URL), for reports. */
  source: string;
  /** Label names from header.classes: at most one unless multiLabel; empty = unlabeled. */
  labels: string[];
  /**
   * The activation map, featureShape values in row-major [H, W, C] order; in a cache of several
   * views, header.views.count such maps one after the other (view 0 first): one sample, one entry.
   */
  features: Float32Array;
}

export type EntryMeta = Pick<CacheEntry, 'id' | 'source' | 'labels'>;

export interface SkippedItem {
  source: string;
  reason: string;
}

export interface PutResult {
  written: number;
  /** Entries removed because their id now maps to a new key (the file changed). */
  replaced: { id: string; oldKey: string }[];
}

export interface OpenCacheOptions {
  /** Open without the writer lock; writes then throw. Default false. */
  readonly?: boolean;
  /** Where notices (stale lock taken over) go; default console.warn. */
  onNotice?: (message: string) => void;
}

/** lmdb's default maximum key size, and py-lmdb's: keep keys and ids portable. */
const MAX_KEY_BYTES = 511;

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const toJsonBytes = (v: unknown): Buffer => utf8(JSON.stringify(v));
const fromJsonBytes = <T>(b: Uint8Array): T => JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as T;

/** An entry's metadata from the JSON bytes the `entries` sub-database holds. */
export function parseEntryMeta(bytes: Uint8Array): EntryMeta {
  return fromJsonBytes<EntryMeta>(bytes);
}

function checkKey(what: string, s: string): Buffer {
  if (typeof s !== 'string' || s.length === 0) throw new Error(`${what} must be a non-empty string`);
  const b = utf8(s);
  if (b.length > MAX_KEY_BYTES) throw new Error(`${what} is ${b.length} bytes; lmdb keys hold at most ${MAX_KEY_BYTES}: ${s.slice(0, 60)}…`);
  return b;
}

/** LMDB's meta-page signature (mdb.c MDB_MAGIC) and the offsets of lmdb-js's 64-bit meta page. */
const MDB_MAGIC = 0xbeefc0de;
const META = { magic: 24, pageSize: 48, lastPage: 144, txnId: 152, end: 160 } as const;

/**
 * Checks `dir/data.mdb` before lmdb maps it: lmdb-js crashes the process (SIGSEGV) on a file that
 * is not an LMDB environment, and a truncated one faults (SIGBUS) when a read reaches past its end.
 * Refuses, in one line: a file too short for its two meta pages, one without LMDB's signature, and
 * one shorter than the pages its last committed transaction uses. An empty file (a create killed
 * before lmdb wrote anything) is let through for writing, where lmdb initialises it.
 */
export function checkEnvironmentFile(dir: string, forWriting: boolean): void {
  const file = join(dir, 'data.mdb');
  if (!existsSync(file)) return;
  const refuse = (why: string): never => {
    throw new Error(`${dir} is not a readable mixhead feature cache: data.mdb ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return refuse(`cannot be opened (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? (err as Error).message)})`);
  }
  try {
    const head = Buffer.alloc(META.end);
    const readAt = (pos: number) => {
      head.fill(0);
      return readSync(fd, head, 0, META.end, pos) === META.end && head.readUInt32LE(META.magic) === MDB_MAGIC;
    };
    // Meta pages first, the size after: a writer writes a transaction's pages before its meta page,
    // so every page the meta we read names is already in the file when we measure it.
    const page0 = readAt(0);
    const pageSize = page0 ? head.readUInt32LE(META.pageSize) : 0;
    const metas: { txn: bigint; lastPage: bigint }[] = [];
    if (page0) metas.push({ txn: head.readBigUInt64LE(META.txnId), lastPage: head.readBigUInt64LE(META.lastPage) });
    const validSize = pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0;
    if (validSize && readAt(pageSize)) metas.push({ txn: head.readBigUInt64LE(META.txnId), lastPage: head.readBigUInt64LE(META.lastPage) });
    const size = fstatSync(fd).size;
    if (size === 0) {
      if (forWriting) return;
      refuse('is empty (a cache whose creation was interrupted: run precompute again)');
    }
    if (!page0) refuse(`has no LMDB signature (${size} bytes): another file, or a corrupt copy`);
    if (!validSize) refuse(`has an impossible page size (${pageSize})`);
    if (size < 2 * pageSize) refuse(`is truncated (${size} bytes; the two meta pages alone take ${2 * pageSize})`);
    // The newer meta page describes the last committed transaction: its pages must all be there.
    const newest = metas.reduce((a, b) => (b.txn > a.txn ? b : a));
    const needed = (newest.lastPage + 1n) * BigInt(pageSize);
    if (BigInt(size) < needed) refuse(`is truncated (${size} bytes; its last transaction uses ${needed}): an incomplete copy?`);
  } finally {
    closeSync(fd);
  }
}

export class FeatureCache {
  readonly codec: FeatureCodec;
  /** Values per map (product of featureShape). */
  readonly featureSize: number;
  /** Maps per entry (header.views.count, or 1). */
  readonly views: number;
  /** Values per entry: featureSize × views. */
  readonly entrySize: number;
  private closed = false;
  private skippedReplacedThisRun = false;

  private constructor(
    readonly dir: string,
    readonly header: CacheHeader,
    readonly readonly: boolean,
    private readonly root: RootDatabase,
    private readonly meta: Database<Buffer, Buffer>,
    private readonly featuresDb: Database<Buffer, Buffer>,
    private readonly entriesDb: Database<Buffer, Buffer>,
    private readonly idsDb: Database<Buffer, Buffer>,
    private readonly lock: WriterLock | undefined,
  ) {
    this.codec = new FeatureCodec(header.dtype, header.quantization);
    this.featureSize = featureSize(header);
    this.views = viewCount(header);
    this.entrySize = this.featureSize * this.views;
  }

  /**
   * Creates a cache in `dir`, or reopens it for writing (resume) when one exists with the same
   * header; a different header throws CacheMismatchError and nothing is overwritten.
   */
  static create(dir: string, header: CacheHeader, options: Omit<OpenCacheOptions, 'readonly'> = {}): FeatureCache {
    validateHeader(header);
    mkdirSync(dir, { recursive: true });
    return FeatureCache.openEnv(dir, false, options, header);
  }

  /** Opens an existing cache; for writing (takes the writer lock) unless `readonly`. */
  static open(dir: string, options: OpenCacheOptions = {}): FeatureCache {
    if (!existsSync(join(dir, 'data.mdb'))) throw new Error(`no feature cache at ${dir} (no data.mdb there)`);
    return FeatureCache.openEnv(dir, options.readonly ?? false, options, undefined);
  }

  private static openEnv(dir: string, readonly: boolean, options: OpenCacheOptions, wanted: CacheHeader | undefined): FeatureCache {
    checkEnvironmentFile(dir, !readonly);
    const root = open({ path: dir, maxDbs: 8, readOnly: readonly, noSubdir: false });
    let lock: WriterLock | undefined;
    try {
      const dbOptions = { encoding: 'binary', keyEncoding: 'binary' } as const;
      const sub = (name: string): Database<Buffer, Buffer> => {
        try {
          return root.openDB<Buffer, Buffer>(name, dbOptions);
        } catch (e) {
          throw new Error(`${dir} is not a mixhead feature cache (no '${name}' sub-database): ${(e as Error).message}`);
        }
      };
      // All four before the header: a crash between creating them and writing it leaves a cache
      // that create() completes and open() names as header-less, never a half-made layout.
      const meta = sub('meta');
      const features = sub('features');
      const entries = sub('entries');
      const ids = sub('ids');
      if (!readonly) {
        const acquire: AcquireOptions = {
          exclusive: (fn) => root.transactionSync(fn),
        };
        if (options.onNotice) acquire.onNotice = options.onNotice;
        lock = WriterLock.acquire(dir, acquire);
      }
      const stored = meta.getBinary(utf8('header'));
      let header: CacheHeader;
      if (stored) {
        header = fromJsonBytes<CacheHeader>(stored);
        if (wanted) assertCompatible(header, wanted, dir);
      } else if (wanted) {
        header = wanted;
        meta.putSync(utf8('header'), toJsonBytes(header));
      } else {
        // Only create() leaves the four sub-databases without a header: a precompute killed at its start.
        throw new Error(`${dir} is an unfinished mixhead feature cache (no header: its precompute was stopped before writing one); run precompute again to start it`);
      }
      return new FeatureCache(dir, header, readonly, root, meta, features, entries, ids, lock);
    } catch (e) {
      lock?.release();
      void root.close();
      throw e;
    }
  }

  private assertWritable(): void {
    if (this.closed) throw new Error(`cache ${this.dir} is closed`);
    if (this.readonly) throw new Error(`cache ${this.dir} was opened read-only`);
  }

  /** Entries in the cache. */
  get count(): number {
    return (this.featuresDb.getStats() as { entryCount: number }).entryCount;
  }

  has(key: string): boolean {
    return this.featuresDb.doesExist(utf8(key));
  }

  get(key: string): CacheEntry | undefined {
    const k = utf8(key);
    const metaBytes = this.entriesDb.getBinary(k);
    const bytes = this.rawFeatures(k);
    if (!metaBytes || !bytes) return undefined;
    const meta = fromJsonBytes<EntryMeta>(metaBytes);
    return { key, id: meta.id, source: meta.source, labels: meta.labels, features: this.codec.decode(bytes) };
  }

  /** id, source and labels of one entry, without decoding its features. */
  getMeta(key: string): EntryMeta | undefined {
    const b = this.entriesDb.getBinary(utf8(key));
    return b ? fromJsonBytes<EntryMeta>(b) : undefined;
  }

  /** All keys, in lmdb order (bytewise ascending). */
  keys(): string[] {
    const out: string[] = [];
    for (const k of this.featuresDb.getKeys()) out.push(Buffer.from(k).toString('utf8'));
    return out;
  }

  /** All entries' metadata in key order, without features. */
  metas(): (EntryMeta & { key: string })[] {
    const out: (EntryMeta & { key: string })[] = [];
    for (const { key, meta } of this.entryRange()) out.push({ key: key.toString('utf8'), ...parseEntryMeta(meta) });
    return out;
  }

  /**
   * Every entry's key and metadata JSON bytes in key order, one at a time (a cursor: memory stays
   * flat however large the cache). Parse the bytes with `parseEntryMeta`.
   */
  *entryRange(): Generator<{ key: Buffer; meta: Buffer }> {
    for (const { key, value } of this.entriesDb.getRange()) yield { key: key as Buffer, meta: value };
  }

  /** Every id → key mapping in id order (bytewise), one at a time. */
  *idRange(): Generator<{ id: Buffer; key: Buffer }> {
    for (const { key, value } of this.idsDb.getRange()) yield { id: key as Buffer, key: value };
  }

  /** The key the id's entry is stored under, if any. */
  keyOfId(id: string): string | undefined {
    const b = this.idsDb.getBinary(utf8(id));
    return b ? Buffer.from(b).toString('utf8') : undefined;
  }

  /** id → {key, source}: what precompute compares against the dataset to find work left. */
  index(): Map<string, { key: string; source: string }> {
    const out = new Map<string, { key: string; source: string }>();
    for (const m of this.metas()) out.set(m.id, { key: m.key, source: m.source });
    return out;
  }

  /**
   * Writes a batch in ONE transaction: after a crash either all of it is there or none. An id that
   * already maps to another key (its file changed) loses the old entry in the same transaction.
   */
  putMany(entries: CacheEntry[]): PutResult {
    this.assertWritable();
    const stats = emptyQuantizationStats();
    const encoded = entries.map((e) => {
      if (!(e.features instanceof Float32Array) || e.features.length !== this.entrySize) {
        const what = this.views > 1 ? `${this.views} views × ${this.featureSize}` : `${this.featureSize}`;
        throw new Error(`entry ${e.id}: features must be a Float32Array of ${what} values (${this.header.featureShape.join('×')}), got ${e.features?.length}`);
      }
      return { key: e.key, meta: { id: e.id, source: e.source, labels: e.labels }, bytes: this.codec.encode(e.features, stats) };
    });
    return this.putEncodedMany(encoded, this.header.dtype === 'uint8' ? stats : undefined);
  }

  /**
   * putMany for bytes already in this cache's encoding (merge copies them without re-quantizing).
   * @internal
   */
  putEncodedMany(items: { key: string; meta: EntryMeta; bytes: Uint8Array }[], stats?: QuantizationStats): PutResult {
    this.assertWritable();
    const expectedBytes = this.codec.byteLength(this.entrySize);
    const seenKeys = new Set<string>();
    const seenIds = new Set<string>();
    const classes = new Set(this.header.classes);
    const prepared = items.map(({ key, meta, bytes }) => {
      const k = checkKey('key', key);
      const idb = checkKey('id', meta.id);
      if (seenKeys.has(key)) throw new Error(`key ${key} appears twice in one batch`);
      if (seenIds.has(meta.id)) throw new Error(`id ${meta.id} appears twice in one batch`);
      seenKeys.add(key);
      seenIds.add(meta.id);
      if (bytes.length !== expectedBytes) throw new Error(`entry ${meta.id}: ${bytes.length} encoded bytes, expected ${expectedBytes}`);
      const unknown = meta.labels.filter((l) => !classes.has(l));
      if (unknown.length) {
        throw new Error(`entry ${meta.id}: unknown label ${unknown.map((l) => `'${l}'`).join(', ')}; classes are ${this.header.classes.join(', ')}`);
      }
      if (!this.header.multiLabel && meta.labels.length > 1) {
        throw new Error(`entry ${meta.id}: ${meta.labels.length} labels in a single-label cache`);
      }
      const entryJson = toJsonBytes({ id: meta.id, source: meta.source, labels: meta.labels });
      return { k, idb, key, meta, bytes, entryJson };
    });
    const replaced: PutResult['replaced'] = [];
    this.root.transactionSync(() => {
      for (const p of prepared) {
        const holder = this.entriesDb.getBinary(p.k);
        if (holder) {
          const heldBy = fromJsonBytes<EntryMeta>(holder).id;
          if (heldBy !== p.meta.id) {
            // Same bytes + preprocessing under two ids: one key cannot hold two samples.
            throw new Error(
              `key ${p.key} already holds id ${heldBy}; id ${p.meta.id} has identical content. ` +
                'Derive keys that include the id to keep duplicates as separate samples.',
            );
          }
        }
        const old = this.idsDb.getBinary(p.idb);
        if (old) {
          const oldKey = Buffer.from(old).toString('utf8');
          if (oldKey !== p.key) {
            this.featuresDb.removeSync(Buffer.from(old));
            this.entriesDb.removeSync(Buffer.from(old));
            replaced.push({ id: p.meta.id, oldKey });
          }
        }
        this.featuresDb.putSync(p.k, Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength));
        this.entriesDb.putSync(p.k, p.entryJson);
        this.idsDb.putSync(p.idb, p.k);
      }
      if (stats && stats.values > 0) {
        const prev = this.quantizationStats() ?? emptyQuantizationStats();
        const next: QuantizationStats = {
          values: prev.values + stats.values,
          clipped: prev.clipped + stats.clipped,
          maxError: Math.max(prev.maxError, stats.maxError),
        };
        this.meta.putSync(utf8('quantStats'), toJsonBytes(next));
      }
    });
    return { written: prepared.length, replaced };
  }

  /** Removes entries by key (missing keys are ignored); returns how many were removed. */
  delete(keys: string[]): number {
    this.assertWritable();
    let removed = 0;
    this.root.transactionSync(() => {
      for (const key of keys) {
        const k = utf8(key);
        const metaBytes = this.entriesDb.getBinary(k);
        if (metaBytes) {
          const idb = utf8(fromJsonBytes<EntryMeta>(metaBytes).id);
          const mapped = this.idsDb.getBinary(idb);
          if (mapped && Buffer.from(mapped).equals(k)) this.idsDb.removeSync(idb);
          this.entriesDb.removeSync(k);
        }
        if (this.featuresDb.removeSync(k)) removed++;
      }
    });
    return removed;
  }

  /**
   * Records images that could not be cached. The first call of a writer session replaces the
   * previous run's list; later calls in the same session append (precompute reports per batch).
   */
  recordSkipped(items: SkippedItem[]): void {
    this.assertWritable();
    this.root.transactionSync(() => {
      const prev = this.skippedReplacedThisRun ? this.skipped() : [];
      this.meta.putSync(utf8('skipped'), toJsonBytes([...prev, ...items.map((s) => ({ source: s.source, reason: s.reason }))]));
    });
    this.skippedReplacedThisRun = true;
  }

  skipped(): SkippedItem[] {
    const b = this.meta.getBinary(utf8('skipped'));
    return b ? fromJsonBytes<SkippedItem[]>(b) : [];
  }

  /** uint8 caches: how many values were clipped and the worst error, since creation. */
  quantizationStats(): QuantizationStats | undefined {
    const b = this.meta.getBinary(utf8('quantStats'));
    return b ? fromJsonBytes<QuantizationStats>(b) : undefined;
  }

  /**
   * Overwrites the uint8 totals (merge sets the sum of its inputs', which describe the copied bytes).
   * @internal
   */
  replaceQuantizationStats(stats: QuantizationStats): void {
    this.assertWritable();
    this.root.transactionSync(() => this.meta.putSync(utf8('quantStats'), toJsonBytes(stats)));
  }

  /**
   * Encoded bytes of one entry, valid only until the next read on this cache (no copy).
   * @internal
   */
  rawFeatures(key: Buffer): Uint8Array | undefined {
    const b = this.featuresDb.getBinaryFast(key);
    // lmdb-js returns its whole shared read buffer with an own `length` property set to the value's
    // size (byteLength stays the buffer's); a true view keeps TypedArray.set and friends honest.
    return b ? new Uint8Array(b.buffer, b.byteOffset, b.length) : undefined;
  }

  /** Starts paging in entries' bytes on lmdb's I/O thread; resolves when they are resident. */
  prefetch(keys: Buffer[]): Promise<void> {
    return this.featuresDb.prefetch(keys) as Promise<void>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
    this.lock?.release();
  }
}

/**
 * The feature cache header: everything that decides whether two sets of cached activations are
 * interchangeable. A cache is only ever extended, merged or trained on together with entries made
 * under an identical header (docs/architecture.md, "Feature cache"); `createdAt` is the one field that may
 * differ.
 */
import type { PreprocessSpec } from '../backbone/types.js';
import { DEFAULT_KERNEL, LEGACY_KERNEL, RESIZE_KERNELS } from '../preprocess/index.js';
import type { ViewSpec } from '../preprocess/views.js';

export type CacheDtype = 'float32' | 'float16' | 'uint8';

export const CACHE_DTYPES: readonly CacheDtype[] = ['float32', 'float16', 'uint8'];

/**
 * Affine uint8 quantization: q = clamp(round(x / scale) + zeroPoint, 0, 255), x̂ = (q − zeroPoint)·scale.
 * Inside the representable range |x − x̂| ≤ scale/2; values outside it clip to the nearest end.
 */
export interface Quantization {
  scale: number;
  zeroPoint: number;
}

/**
 * ReLU6 activation maps lie in [0, 6], so the default maps 0 → 0 and 6 → 255 (scale 6/255 ≈ 0.0235,
 * worst rounding error 3/255 ≈ 0.0118). Backbones whose cut is not a ReLU6 need their own scale.
 */
export const DEFAULT_UINT8_QUANTIZATION: Quantization = Object.freeze({ scale: 6 / 255, zeroPoint: 0 });

export interface CacheBackboneInfo {
  /** Backbone id, e.g. `bundled-mobilenet-v2`. */
  id: string;
  /** sha256 over topology and weights (Backbone.weightsHash). */
  weightsHash: string;
  /** Layer or node whose activations are cached. */
  cut: string;
  kind: 'layers' | 'graph' | 'onnx';
}

export interface CacheHeader {
  format: 'mixhead-cache';
  version: 1;
  backbone: CacheBackboneInfo;
  preprocess: PreprocessSpec;
  /** Shape of one entry's activation map, e.g. [7, 7, 1280] (H, W, C). */
  featureShape: number[];
  dtype: CacheDtype;
  /** Present exactly when dtype is uint8. */
  quantization?: Quantization;
  /** Label vocabulary; entries store label names, which must come from this list. */
  classes: string[];
  multiLabel: boolean;
  /** ISO time the cache was created; ignored by every comparison. */
  createdAt: string;
  /**
   * The engine that computed the maps (`onnx` or `tfjs`): information only, ignored by every
   * comparison, since both engines give the same maps within 1e-3 (docs/engine.md).
   */
  engine?: string;
  /**
   * Several views per sample (precompute --views N, src/preprocess/views.ts): each entry holds `count`
   * maps one after the other, view 0 the plain one. Absent means one view, so a cache without
   * views is byte for byte what it was before views existed.
   */
  views?: CacheViews;
}

/** How a cache's views were made: src/preprocess/views.ts' ViewSpec. */
export type CacheViews = ViewSpec;

/** Maps per entry: header.views.count, or 1. */
export function viewCount(h: Pick<CacheHeader, 'views'>): number {
  return h.views?.count ?? 1;
}

/** What a caller supplies; format, version, createdAt and the uint8 default scale are filled in. */
export type CacheHeaderInit = Omit<CacheHeader, 'format' | 'version' | 'createdAt'> & {
  createdAt?: string;
};

/** Thrown when a cache would be written, merged or read with settings different from its own. */
export class CacheMismatchError extends Error {
  override readonly name = 'CacheMismatchError';
  constructor(
    readonly dir: string,
    readonly differences: string[],
    message?: string,
  ) {
    super(message ?? `cache ${dir} was made with different settings: ${differences.join('; ')}`);
  }
}

export function makeHeader(init: CacheHeaderInit): CacheHeader {
  const header: CacheHeader = {
    format: 'mixhead-cache',
    version: 1,
    backbone: { ...init.backbone },
    // A spec naming no kernel means the current default in memory; on disk it means the legacy one.
    preprocess: { ...init.preprocess, kernel: init.preprocess.kernel ?? DEFAULT_KERNEL },
    featureShape: [...init.featureShape],
    dtype: init.dtype,
    classes: [...init.classes],
    multiLabel: init.multiLabel,
    createdAt: init.createdAt ?? new Date().toISOString(),
  };
  if (init.engine) header.engine = init.engine;
  // One view is recorded as no views at all: such a cache stays what it was before views existed.
  if (init.views && init.views.count > 1) header.views = { count: init.views.count, flip: init.views.flip, scale: [...init.views.scale], ratio: [...init.views.ratio] };
  if (init.dtype === 'uint8') header.quantization = { ...(init.quantization ?? DEFAULT_UINT8_QUANTIZATION) };
  validateHeader(header);
  return header;
}

/** Throws on a header that could not describe a readable cache; the message lists valid values. */
export function validateHeader(h: CacheHeader): void {
  const problems: string[] = [];
  if (h.format !== 'mixhead-cache') problems.push(`format must be 'mixhead-cache', got ${JSON.stringify(h.format)}`);
  if (h.version !== 1) problems.push(`version must be 1, got ${JSON.stringify(h.version)}`);
  if (!CACHE_DTYPES.includes(h.dtype)) problems.push(`dtype must be one of ${CACHE_DTYPES.join(', ')}, got ${JSON.stringify(h.dtype)}`);
  if (!Array.isArray(h.featureShape) || h.featureShape.length === 0 || !h.featureShape.every((d) => Number.isInteger(d) && d > 0)) {
    problems.push(`featureShape must be positive integers, got ${JSON.stringify(h.featureShape)}`);
  }
  if (h.dtype === 'uint8') {
    const q = h.quantization;
    if (!q || !(q.scale > 0) || !Number.isFinite(q.scale) || !Number.isInteger(q.zeroPoint) || q.zeroPoint < 0 || q.zeroPoint > 255) {
      problems.push(`uint8 needs quantization {scale > 0, zeroPoint integer in 0..255}, got ${JSON.stringify(q)}`);
    }
  } else if (h.quantization) {
    problems.push(`quantization is only meaningful for uint8, not ${h.dtype}`);
  }
  if (!Array.isArray(h.classes) || new Set(h.classes).size !== h.classes.length) problems.push('classes must be a list of distinct names');
  const kernel = h.preprocess?.kernel;
  if (kernel !== undefined && !RESIZE_KERNELS.includes(kernel)) problems.push(`preprocess.kernel must be one of ${RESIZE_KERNELS.join(', ')}, got ${JSON.stringify(kernel)}`);
  if (h.views !== undefined) {
    const v = h.views;
    const pair = (p: unknown) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x)) && p[0] <= p[1];
    if (!v || !Number.isInteger(v.count) || v.count < 2 || typeof v.flip !== 'boolean' || !pair(v.scale) || !pair(v.ratio) || v.scale[1] > 1) {
      problems.push(`views must be {count ≥ 2, flip, scale [lo, hi] within (0, 1], ratio [lo, hi]}, got ${JSON.stringify(v)}`);
    }
  }
  if (!h.backbone || typeof h.backbone.id !== 'string' || typeof h.backbone.weightsHash !== 'string') {
    problems.push('backbone must give id and weightsHash');
  }
  if (problems.length) throw new Error(`invalid cache header: ${problems.join('; ')}`);
}

/** Number of float values in one entry (product of featureShape). */
export function featureSize(h: Pick<CacheHeader, 'featureShape'>): number {
  return h.featureShape.reduce((a, b) => a * b, 1);
}

const short = (hash: string): string => (hash.length > 12 ? `${hash.slice(0, 12)}…` : hash);
const shape = (s: number[]): string => s.join('×');
const json = (v: unknown): string => (v === undefined ? 'none' : JSON.stringify(v));

/** Ids that name where a model was loaded from (a file, folder or URL), not which model it is. */
const LOCATED_ID = /^(onnx|layers|graph):/;

/**
 * Whether two records name the same backbone. A named backbone (bundled-mobilenet-v2, mobilenet-v1…)
 * is its id. A model loaded from a path or URL is its weights: the same file copied elsewhere (each
 * Slurm node's scratch, a colleague's checkout, a moved folder) makes the same maps, so only the
 * kind of location and the weights hash must agree.
 */
export function sameBackboneId(a: CacheBackboneInfo, b: CacheBackboneInfo): boolean {
  if (a.id === b.id) return true;
  const la = LOCATED_ID.exec(a.id)?.[1];
  return la != null && la === LOCATED_ID.exec(b.id)?.[1] && a.weightsHash === b.weightsHash;
}

/**
 * Every difference between two headers, in words, `a` taken as the existing cache and `b` as the
 * one wanted ("missing" classes are in `a` only, "extra" ones in `b` only). Empty when compatible.
 */
export function compareHeaders(a: CacheHeader, b: CacheHeader): string[] {
  const d: string[] = [];
  if (a.format !== b.format || a.version !== b.version) {
    d.push(`format differs: ${a.format} v${a.version} vs ${b.format} v${b.version}`);
  }
  if (!sameBackboneId(a.backbone, b.backbone)) d.push(`backbone differs: ${a.backbone.id} vs ${b.backbone.id}`);
  if (a.backbone.weightsHash !== b.backbone.weightsHash) {
    d.push(`backbone weights hash differs: ${short(a.backbone.weightsHash)} vs ${short(b.backbone.weightsHash)}`);
  }
  if (a.backbone.cut !== b.backbone.cut) d.push(`cut layer differs: ${a.backbone.cut} vs ${b.backbone.cut}`);
  if (a.backbone.kind !== b.backbone.kind) d.push(`backbone kind differs: ${a.backbone.kind} vs ${b.backbone.kind}`);
  const pa = a.preprocess;
  const pb = b.preprocess;
  if (pa.size !== pb.size) d.push(`input size differs: ${pa.size} vs ${pb.size}`);
  if (json(pa.range) !== json(pb.range)) d.push(`pixel range differs: ${json(pa.range)} vs ${json(pb.range)}`);
  if (json(pa.mean) !== json(pb.mean)) d.push(`normalization mean differs: ${json(pa.mean)} vs ${json(pb.mean)}`);
  if (json(pa.std) !== json(pb.std)) d.push(`normalization std differs: ${json(pa.std)} vs ${json(pb.std)}`);
  if (pa.fit !== pb.fit) d.push(`resize fit differs: ${pa.fit} vs ${pb.fit}`);
  const ka = pa.kernel ?? LEGACY_KERNEL;
  const kb = pb.kernel ?? LEGACY_KERNEL;
  if (ka !== kb) d.push(`resize kernel differs: ${ka} vs ${kb}`);
  if (shape(a.featureShape) !== shape(b.featureShape)) {
    d.push(`feature shape differs: ${shape(a.featureShape)} vs ${shape(b.featureShape)}`);
  }
  if (a.dtype !== b.dtype) d.push(`dtype differs: ${a.dtype} vs ${b.dtype}`);
  else if (json(a.quantization) !== json(b.quantization)) {
    d.push(`quantization differs: ${json(a.quantization)} vs ${json(b.quantization)}`);
  }
  const inB = new Set(b.classes);
  const inA = new Set(a.classes);
  const missing = a.classes.filter((c) => !inB.has(c));
  const extra = b.classes.filter((c) => !inA.has(c));
  if (missing.length || extra.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.map((c) => `'${c}'`).join(', ')}`);
    if (extra.length) parts.push(`extra ${extra.map((c) => `'${c}'`).join(', ')}`);
    d.push(`class vocabulary differs: ${parts.join(', ')}`);
  } else if (a.classes.join('\u0000') !== b.classes.join('\u0000')) {
    // Same names in another order would silently renumber every target.
    d.push(`class order differs: [${a.classes.join(', ')}] vs [${b.classes.join(', ')}]`);
  }
  const va = a.views;
  const vb = b.views;
  if (viewCount(a) !== viewCount(b)) d.push(`views differ: ${viewCount(a)} vs ${viewCount(b)}`);
  else if (va && vb) {
    if (va.flip !== vb.flip) d.push(`view flip differs: ${va.flip ? 'flip' : 'no flip'} vs ${vb.flip ? 'flip' : 'no flip'}`);
    if (json(va.scale) !== json(vb.scale)) d.push(`view crop scale differs: ${json(va.scale)} vs ${json(vb.scale)}`);
    if (json(va.ratio) !== json(vb.ratio)) d.push(`view crop ratio differs: ${json(va.ratio)} vs ${json(vb.ratio)}`);
  }
  if (a.multiLabel !== b.multiLabel) {
    const kind = (m: boolean): string => (m ? 'multi-label' : 'single-label');
    d.push(`label mode differs: ${kind(a.multiLabel)} vs ${kind(b.multiLabel)}`);
  }
  return d;
}

/** Throws CacheMismatchError (one line naming `dir` and each difference) unless compatible. */
export function assertCompatible(existing: CacheHeader, wanted: CacheHeader, dir: string): void {
  const differences = compareHeaders(existing, wanted);
  if (differences.length) throw new CacheMismatchError(dir, differences);
}

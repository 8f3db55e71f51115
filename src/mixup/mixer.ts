/**
 * The mix policy for one training run: decides, batch by batch, whether to mix, how (mixup or
 * CutMix), with which λ and which partners, and applies that plan to features and targets.
 *
 * Papers: mixup (Zhang et al., ICLR 2018), manifold mixup (Verma et al., ICML 2019; the same plan
 * applied to hidden activations), CutMix (Yun et al., ICCV 2019).
 *
 * Shape (after timm's `Mixup` and fastai's `MixUp`/`CutMix`): every knob is an explicit, documented,
 * validated field of `MixupArgs` (one schema, in options.ts); the arithmetic lives in the pure helpers of this folder; the
 * trainer calls `plan` once per batch and applies the plan where it mixes (host rows, or a B×B
 * matrix for a MatMul inside the model). Evaluation and prediction never call it.
 *
 * Per batch (docs/architecture.md, "Mixup semantics"):
 *   1. Off (mode 'none', λ = 1) when epoch ≥ offAfterEpoch, or α(epoch) = 0 and CutMix cannot run.
 *   2. With probability 1 − prob the batch is left unmixed.
 *   3. CutMix needs spatial dims and cutmixAlpha > 0; if mixup (α(epoch) > 0) is possible too,
 *      CutMix is picked with probability switchProb.
 *   4. Partners π from `pairPartners` (excluded classes neither mixed nor partners).
 *   5. mixup: λ per sample or per batch from Beta(α, α), dominant → max(λ, 1 − λ).
 *      CutMix: one λ ~ Beta(αc, αc) and one box per batch; λ corrected to the true box area when
 *      correctLambda (dominant does not apply: the box size is the draw).
 *   6. λᵢ = 1 wherever π(i) = i, so the recorded λ is what happened.
 * All draws come from `new Rng(seed).fork('mixup')`, so the same seed gives identical plans and the
 * data order (another fork) is undisturbed by how many mix draws are made.
 */
import { OptionError } from '../base/errors.js';
import { Rng } from '../base/random.js';
import { defined, parseOptions } from '../base/options.js';
import { applyCutmix, correctedLambda, cutmixBox, type CutmixBox } from './cutmix.js';
import { sampleLambda } from './lambda.js';
import { blendTargets, smoothTargets } from './labels.js';
import { mixingMatrix, mixRows, type FloatArray } from './mix.js';
import { pairPartners } from './pairing.js';
import {
  MIXUP_DEFAULTS,
  mixupOptionsSchema,
  type AlphaSchedule,
  type AlphaScheduleSpec,
  type LambdaMode,
  type MixupArgs,
  type Pairing,
  type PairsPolicy,
} from './options.js';

export type { AlphaSchedule, AlphaScheduleSpec, MixupArgs };

export type MixMode = 'none' | 'mixup' | 'cutmix';

/** `MixupArgs` with defaults filled in and excluded classes resolved to sorted indices. */
export interface ResolvedMixupArgs {
  alpha: number;
  cutmixAlpha: number;
  switchProb: number;
  prob: number;
  lambda: LambdaMode;
  dominant: boolean;
  pairing: Pairing;
  pairs: PairsPolicy;
  excludeClasses: number[];
  labelSmoothing: number;
  offAfterEpoch: number | undefined;
  alphaSchedule: AlphaSchedule | undefined;
  correctLambda: boolean;
  seed: number;
}

/** What to do with one batch. */
export interface MixPlan {
  mode: MixMode;
  /** λᵢ per sample (1 = unmixed). */
  lam: Float32Array;
  /** Partner π(i) per sample (π(i) = i: unmixed). */
  partner: Int32Array;
  /** CutMix only: the pasted cells. */
  box?: CutmixBox;
  /** CutMix only: the H×W grid the box refers to. */
  grid?: [number, number];
  /** The α the λ were drawn with (0 when mode is 'none'). */
  alpha: number;
}

export interface PlanOptions {
  /** H×W of the feature maps; needed for CutMix. */
  spatial?: readonly [number, number];
  /** Batch size, required when `labels` is null. */
  batchSize?: number;
  /** Extra per-sample eligibility; ANDed with excludeClasses. */
  eligible?: ArrayLike<boolean>;
  /**
   * Every class of each sample, for multi-label data: a sample carrying any excluded class is
   * neither mixed nor a partner, and 'differentClass' partners share no class. Without it, only
   * `labels` (one class per sample) is looked at.
   */
  labelSets?: ReadonlyArray<ArrayLike<number>>;
}

/** Fixed-bin histogram of every λ used (one entry per sample per planned batch). */
export interface LambdaHistory {
  /** Bin edges, bins + 1 values from 0 to 1; the last bin is closed, so λ = 1 falls in it. */
  edges: number[];
  counts: number[];
  /** Samples recorded. */
  count: number;
  /** Of those, samples left as they were (λ = 1). */
  unmixed: number;
  mean: number;
  min: number;
  max: number;
  /** Planned batches by mode. */
  batches: Record<MixMode, number>;
}

const HISTOGRAM_BINS = 20;

function listClasses(classes: readonly string[]): string {
  const shown = classes.slice(0, 20).map((c) => JSON.stringify(c)).join(', ');
  return classes.length > 20 ? `${shown}, … (${classes.length} in all)` : shown;
}

/** α at an epoch under a schedule (see `AlphaSchedule`). */
export function alphaAt(schedule: AlphaSchedule, epoch: number): number {
  let a: number;
  if (typeof schedule === 'function') {
    a = schedule(epoch);
  } else if (schedule.type === 'constant') {
    a = schedule.from;
  } else {
    const t = Math.min(Math.max(epoch / (schedule.epochs as number), 0), 1);
    const to = schedule.to as number;
    const shape = schedule.type === 'linear' ? t : (1 - Math.cos(Math.PI * t)) / 2;
    a = schedule.from + (to - schedule.from) * shape;
  }
  if (typeof a !== 'number' || !Number.isFinite(a) || a < 0) {
    throw new OptionError(`alphaSchedule gave alpha ${String(a)} at epoch ${epoch}; it must be a finite number ≥ 0`);
  }
  return a;
}

/**
 * Fills defaults and checks every field with `mixupOptionsSchema` (errors name the field, the value
 * and what is allowed), then resolves excluded classes, which only the class list can check.
 */
export function resolveMixupArgs(args: MixupArgs, classes: readonly string[]): ResolvedMixupArgs {
  if (args == null || typeof args !== 'object') throw new OptionError('mixup args must be an object');
  const a = { ...MIXUP_DEFAULTS, ...defined(parseOptions(mixupOptionsSchema, args)) };
  if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string')) {
    throw new OptionError('classes must be a non-empty array of class names');
  }
  if (new Set(classes).size !== classes.length) throw new OptionError('classes must be distinct');
  const excluded = new Set<number>();
  for (const c of args.excludeClasses ?? []) {
    if (typeof c === 'number') {
      if (c >= classes.length) throw new OptionError(`excludeClasses: index ${c} is not a class index in [0, ${classes.length})`);
      excluded.add(c);
    } else {
      const k = classes.indexOf(c);
      if (k < 0) throw new OptionError(`excludeClasses: unknown class ${JSON.stringify(c)}; classes are ${listClasses(classes)}`);
      excluded.add(k);
    }
  }
  const schedule = a.alphaSchedule;
  return {
    ...a,
    excludeClasses: [...excluded].sort((x, y) => x - y),
    alphaSchedule: schedule === undefined || typeof schedule === 'function' ? schedule : { ...schedule },
  };
}

/** Plans and applies mixup / CutMix batch by batch (see the file header). */
export class Mixer {
  readonly options: Readonly<ResolvedMixupArgs>;
  readonly classes: readonly string[];
  private readonly rng: Rng;
  private readonly excluded: Set<number>;
  private hist = Mixer.emptyHistory();

  constructor(args: MixupArgs, classes: readonly string[], alreadyResolved = false) {
    this.options = Object.freeze(alreadyResolved ? { ...(args as ResolvedMixupArgs) } : resolveMixupArgs(args, classes));
    this.classes = [...classes];
    this.rng = new Rng(this.options.seed).fork('mixup');
    this.excluded = new Set(this.options.excludeClasses);
  }

  /**
   * A mixer over options `resolveMixupArgs` already checked and filled: the trainer resolves them once
   * per run and makes one mixer per epoch with that epoch's seed, parsing nothing again.
   */
  static resolved(options: ResolvedMixupArgs, classes: readonly string[]): Mixer {
    return new Mixer(options, classes, true);
  }

  /** The mixup α in effect at an epoch (the schedule, else `alpha`). */
  alphaAt(epoch: number): number {
    return this.options.alphaSchedule ? alphaAt(this.options.alphaSchedule, epoch) : this.options.alpha;
  }

  /**
   * Decides the mix of one batch.
   * @param labels class index per sample (the first label for multi-label data: pass every label in
   *   `options.labelSets`), or null when the
   *   batch has none (then pass `batchSize`, and neither excludeClasses nor differentClass can apply).
   * @param epoch 0-based epoch (fractions allowed, for schedules stepped within an epoch).
   */
  plan(labels: Int32Array | null, epoch: number, options: PlanOptions = {}): MixPlan {
    const o = this.options;
    if (typeof epoch !== 'number' || !Number.isFinite(epoch) || epoch < 0) {
      throw new Error(`epoch must be a finite number ≥ 0, got ${String(epoch)}`);
    }
    const b = labels ? labels.length : options.batchSize;
    if (b === undefined || !Number.isInteger(b) || b < 0) {
      throw new Error(`plan needs labels or an integer batchSize ≥ 0, got ${String(b)}`);
    }
    if (labels && options.batchSize !== undefined && options.batchSize !== b) {
      throw new Error(`batchSize ${options.batchSize} differs from the ${b} labels given`);
    }
    const spatial = options.spatial;
    if (spatial && !(Number.isInteger(spatial[0]) && Number.isInteger(spatial[1]) && spatial[0] > 0 && spatial[1] > 0)) {
      throw new Error(`spatial must be [H, W] with positive integers, got [${spatial.join(', ')}]`);
    }
    if (!labels && (this.excluded.size > 0 || o.pairs === 'differentClass')) {
      throw new Error("excludeClasses and pairs 'differentClass' need labels; plan got null");
    }
    if (options.labelSets !== undefined && options.labelSets.length !== b) {
      throw new Error(`labelSets has ${options.labelSets.length} entries for a batch of ${b}`);
    }
    const eligible = this.eligibility(labels, b, options.eligible, options.labelSets);

    const unmixed = (): MixPlan => {
      const partner = new Int32Array(b);
      for (let i = 0; i < b; i++) partner[i] = i;
      return this.record({ mode: 'none', lam: new Float32Array(b).fill(1), partner, alpha: 0 });
    };

    if (o.offAfterEpoch !== undefined && epoch >= o.offAfterEpoch) return unmixed();
    const alpha = this.alphaAt(epoch);
    const canCutmix = spatial !== undefined && o.cutmixAlpha > 0;
    const canMixup = alpha > 0;
    if (!canCutmix && !canMixup) return unmixed();
    // Always drawn (also at prob = 1) so that the stream does not depend on `prob`'s value.
    if (!(this.rng.uniform() < o.prob)) return unmixed();
    const useCutmix = canCutmix && (!canMixup || this.rng.uniform() < o.switchProb);

    const partner = pairPartners(this.rng, labels ?? b, { pairing: o.pairing, pairs: o.pairs, eligible, labelSets: options.labelSets });
    let plan: MixPlan;
    if (useCutmix) {
      const [h, w] = spatial as readonly [number, number];
      const drawn = this.rng.beta(o.cutmixAlpha, o.cutmixAlpha);
      const box = cutmixBox(this.rng, h, w, drawn);
      const lamValue = o.correctLambda ? correctedLambda(box, h, w) : drawn;
      plan = { mode: 'cutmix', lam: new Float32Array(b).fill(lamValue), partner, box, grid: [h, w], alpha: o.cutmixAlpha };
    } else {
      const lam = sampleLambda(this.rng, b, { alpha, mode: o.lambda, dominant: o.dominant });
      plan = { mode: 'mixup', lam, partner, alpha };
    }
    let mixed = 0;
    for (let i = 0; i < b; i++) {
      if (partner[i] === i) plan.lam[i] = 1;
      else mixed++;
    }
    if (mixed === 0) return unmixed(); // a batch of one, or nothing eligible: say so
    return this.record(plan);
  }

  /**
   * Applies a plan to a batch of features with per-sample shape `rowShape` (x is B×rowShape,
   * row-major). mixup: `mixRows`; CutMix: `applyCutmix`, for which rowShape must be [H, W, C] with
   * the plan's grid; none: a copy. Always returns a new array (or `out`), never x itself.
   */
  applyToRows(plan: MixPlan, x: FloatArray, rowShape: readonly number[]): Float32Array;
  applyToRows<T extends FloatArray>(plan: MixPlan, x: FloatArray, rowShape: readonly number[], out: T): T;
  applyToRows(plan: MixPlan, x: FloatArray, rowShape: readonly number[], out?: FloatArray): FloatArray {
    const b = plan.lam.length;
    const rowSize = rowShape.reduce((p, d) => p * d, 1);
    if (x.length !== b * rowSize) {
      throw new Error(`x has ${x.length} values; ${b} rows of shape [${rowShape.join(', ')}] need ${b * rowSize}`);
    }
    if (plan.mode === 'cutmix') {
      const grid = plan.grid;
      if (!plan.box || !grid) throw new Error('a CutMix plan needs its box and grid');
      if (rowShape.length !== 3 || rowShape[0] !== grid[0] || rowShape[1] !== grid[1]) {
        throw new Error(`CutMix plan for a ${grid[0]}×${grid[1]} grid needs rows of shape [${grid[0]}, ${grid[1]}, C], got [${rowShape.join(', ')}]`);
      }
      return applyCutmix(x, [b, grid[0], grid[1], rowShape[2]], plan.partner, plan.box, out);
    }
    // 'none' has λ = 1 and π = identity, which mixRows copies exactly.
    return out ? mixRows(x, rowSize, plan.lam, plan.partner, out) : mixRows(x, rowSize, plan.lam, plan.partner);
  }

  /**
   * Targets (B×K, e.g. from `oneHot`, or multi-hot) for a plan: label smoothing first,
   * y = (1 − ε)·y + ε/K, then ỹᵢ = λᵢ·yᵢ + (1 − λᵢ)·y_π(i). Returns a new array.
   */
  applyToTargets(plan: MixPlan, targets: Float32Array): Float32Array;
  applyToTargets<T extends FloatArray>(plan: MixPlan, targets: T): T;
  applyToTargets(plan: MixPlan, targets: FloatArray): FloatArray {
    const k = this.classes.length;
    const b = plan.lam.length;
    if (targets.length !== b * k) throw new Error(`targets have ${targets.length} values; B×K = ${b}×${k} needs ${b * k}`);
    const smoothed = smoothTargets(targets, k, this.options.labelSmoothing);
    const out = smoothed instanceof Float64Array ? new Float64Array(smoothed.length) : new Float32Array(smoothed.length);
    return blendTargets(smoothed, plan.lam, plan.partner, out);
  }

  /** Snapshot of the λ histogram over every plan made so far. */
  lambdaHistory(): LambdaHistory {
    const h = this.hist;
    return {
      edges: Array.from({ length: HISTOGRAM_BINS + 1 }, (_, j) => j / HISTOGRAM_BINS),
      counts: [...h.counts],
      count: h.count,
      unmixed: h.unmixed,
      mean: h.count > 0 ? h.sum / h.count : NaN,
      min: h.count > 0 ? h.min : NaN,
      max: h.count > 0 ? h.max : NaN,
      batches: { ...h.batches },
    };
  }

  /** Forgets the λ history (e.g. per epoch). The random stream is not affected. */
  resetHistory(): void {
    this.hist = Mixer.emptyHistory();
  }

  private static emptyHistory() {
    return {
      counts: new Array<number>(HISTOGRAM_BINS).fill(0),
      count: 0,
      unmixed: 0,
      sum: 0,
      min: Infinity,
      max: -Infinity,
      batches: { none: 0, mixup: 0, cutmix: 0 } as Record<MixMode, number>,
    };
  }

  private eligibility(labels: Int32Array | null, b: number, extra: ArrayLike<boolean> | undefined, sets: ReadonlyArray<ArrayLike<number>> | undefined): boolean[] | undefined {
    if (extra !== undefined && extra.length !== b) {
      throw new Error(`eligible has ${extra.length} entries for a batch of ${b}`);
    }
    if (this.excluded.size === 0 && extra === undefined) return undefined;
    const carriesExcluded = (i: number) => {
      if (sets) return Array.prototype.some.call(sets[i], (c: number) => this.excluded.has(c));
      return labels != null && this.excluded.has(labels[i]);
    };
    const e = new Array<boolean>(b);
    for (let i = 0; i < b; i++) e[i] = (extra === undefined || Boolean(extra[i])) && !carriesExcluded(i);
    return e;
  }

  private record(plan: MixPlan): MixPlan {
    const h = this.hist;
    h.batches[plan.mode]++;
    for (let i = 0; i < plan.lam.length; i++) {
      const l = plan.lam[i];
      h.counts[Math.min(Math.floor(l * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)]++;
      h.count++;
      h.sum += l;
      if (l === 1) h.unmixed++;
      if (l < h.min) h.min = l;
      if (l > h.max) h.max = l;
    }
    return plan;
  }
}

/**
 * The B×B matrix form of a plan, X̃ = M·X, for mixing inside a model with one MatMul (FeatureTap).
 * 'none' gives the identity; CutMix is not a mix of whole rows, so it has no such matrix.
 */
export function planMatrix(plan: MixPlan): Float32Array {
  if (plan.mode === 'cutmix') {
    throw new Error('a CutMix plan is not a mix of whole rows; apply it to the H×W×C maps with applyToRows');
  }
  return mixingMatrix(plan.lam, plan.partner);
}

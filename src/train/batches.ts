/**
 * Batch sources: one per mix point, each turning a batch's sample indices and mix plan into the
 * head's input rows (see trainer.ts for the mix points).
 * - `features`: read the cached maps (or pooled vectors) and mix them on the host.
 * - `hidden`: read them unmixed; pick one of the head's taps per mixed batch, where the plan is
 *   applied inside the training graph (one MatMul, FeatureTap).
 * - `input`: mix the images and rerun the frozen backbone (given as `inputFeatures`).
 */
import { mixingMatrix, type MixPlan, type Mixer } from '../mixup/index.js';
import type { Rng } from '../base/random.js';
import type { Head } from './heads.js';
import type { FeatureSet } from './features.js';

export interface BatchSource {
  /**
   * The input rows of one batch (valid until the next call). `rng`: the epoch's tap stream.
   * `views[j]`: the view of sample idx[j] (a cache of several views; default view 0).
   */
  rows(idx: Int32Array, plan: MixPlan, mixer: Mixer, rng: Rng, views?: Int32Array): Promise<Float32Array>;
  /**
   * The mix the step applies inside the head for the rows just read: the tap's index in `head.taps`
   * and the n×n matrix M (X̃ = M·X); null when the rows are already mixed or the batch is unmixed.
   */
  mix(): { tap: number; matrix: Float32Array } | null;
  /** Called after the step: the hidden source forgets its plan. */
  done(): void;
  /** Detaches what the source attached to the head. */
  close(): void;
}

/** Reads rows of `set` into a reusable buffer; mixes them on the host when `mix(plan)` says so. */
function reader(set: FeatureSet, head: Head, batchSize: number, mix: (plan: MixPlan) => boolean): BatchSource {
  const [h, w, c] = set.featureShape;
  const rowSize = head.pooled ? c : h * w * c;
  const xBuf = new Float32Array(batchSize * rowSize);
  const mixBuf = new Float32Array(batchSize * rowSize);
  return {
    async rows(idx, plan, mixer, _rng, views) {
      const n = idx.length;
      const x = xBuf.subarray(0, n * rowSize);
      // Mixing acts on whichever views were drawn: a sample's partner brings its own view.
      if (head.pooled) set.readPooled(idx, x, views);
      else set.readRows(idx, x, views);
      if (!mix(plan) || plan.mode === 'none') return x;
      return mixer.applyToRows(plan, x, head.pooled ? [c] : [h, w, c], mixBuf.subarray(0, n * rowSize));
    },
    mix: () => null,
    done() {},
    close() {},
  };
}

/**
 * Mix point `features`. With `inGraph` (an engine that takes M, for heads fed full maps) a mixup
 * batch is read unmixed and its matrix handed to the step, which mixes where it is cheapest
 * (src/train/onnx/step.ts); CutMix boxes are always pasted on the host.
 */
export function featureBatches(set: FeatureSet, head: Head, batchSize: number, options: { inGraph?: boolean } = {}): BatchSource {
  if (!options.inGraph) return reader(set, head, batchSize, () => true);
  const read = reader(set, head, batchSize, (plan) => plan.mode !== 'mixup');
  let last: MixPlan | null = null;
  return {
    async rows(idx, plan, mixer, rng) {
      last = plan;
      return read.rows(idx, plan, mixer, rng);
    },
    mix: () => (last && last.mode === 'mixup' ? { tap: 0, matrix: mixingMatrix(last.lam, last.partner) } : null),
    done() {
      last = null;
    },
    close() {},
  };
}

export function hiddenBatches(set: FeatureSet, head: Head, batchSize: number): BatchSource {
  const read = reader(set, head, batchSize, () => false);
  // The plan and the chosen tap of the step in progress; taps mix only when named.
  let pending: { plan: MixPlan; tap: string; index: number } | null = null;
  for (const tap of head.taps) {
    tap.attachMixer({
      mixMatrix: (batch, name) => (pending && pending.tap === name && pending.plan.partner.length === batch ? mixingMatrix(pending.plan.lam, pending.plan.partner) : null),
    });
  }
  return {
    async rows(idx, plan, mixer, rng, views) {
      const index = plan.mode !== 'none' ? rng.int(head.taps.length) : -1;
      pending = index >= 0 ? { plan, tap: head.taps[index].name, index } : null;
      return read.rows(idx, plan, mixer, rng, views);
    },
    mix: () => (pending ? { tap: pending.index, matrix: mixingMatrix(pending.plan.lam, pending.plan.partner) } : null),
    done() {
      pending = null;
    },
    close() {
      for (const tap of head.taps) tap.attachMixer(null);
    },
  };
}

export function inputBatches(inputFeatures: (idx: Int32Array, plan: MixPlan, mixer: Mixer) => Promise<Float32Array>): BatchSource {
  return {
    rows: (idx, plan, mixer) => inputFeatures(idx, plan, mixer),
    mix: () => null,
    done() {},
    close() {},
  };
}

/**
 * Who mixes with whom: the partner π(i) of each sample in a batch, for mixup (Zhang et al., 2018),
 * manifold mixup (Verma et al., 2019) and CutMix (Yun et al., 2019), which all combine sample i with
 * one other sample π(i) of the same batch.
 *
 * Rules (docs/architecture.md, "Mixup semantics"):
 * - π(i) = i means "unmixed"; the mixer then sets λᵢ = 1 so that what it reports is what happened.
 * - Ineligible samples (excluded classes) get π(i) = i and are never anyone's partner.
 * - A batch of one, or fewer than two eligible samples, is left unmixed, not an error.
 * - 'permutation': π restricted to the eligible samples is a uniform random permutation of them
 *   (fixed points, about one per batch on average, stay unmixed, as in fastai's randperm).
 * - 'flip': the k-th eligible sample pairs with the k-th from the end (timm's batch flip); with an
 *   odd count the middle one pairs with itself.
 * - pairs 'differentClass': start from the pairing above, then repair each i whose partner has
 *   i's class, in index order:
 *     1. swap partners with a k (scanned from a random start) such that label(π(k)) ≠ label(i)
 *        and label(π(i)) ≠ label(k): both i and k end with a partner of another class, and π stays a
 *        bijection of the eligible samples (each sample still lends itself about once);
 *     2. else take a uniformly random eligible j of another class as partner directly (π stops
 *        being a bijection, but i is mixed across classes);
 *     3. else (every eligible sample has i's class) π(i) = i: unmixed.
 *   Step 1 never breaks an already-repaired k, so afterwards no sample is paired with its own class
 *   while another class is present among the eligible samples.
 *   Multi-label samples (`labelSets`): "another class" means sharing no label at all.
 */
import type { Rng } from '../base/random.js';
import { PAIRINGS, PAIRS_POLICIES, type Pairing, type PairsPolicy } from './options.js';

export type { Pairing, PairsPolicy };

export interface PairingOptions {
  /** How partners are drawn. */
  pairing: Pairing;
  /** Whether a partner must have another class (needs labels). */
  pairs: PairsPolicy;
  /** eligible[i] false: sample i is neither mixed nor a partner. Default: all eligible. */
  eligible?: ArrayLike<boolean>;
  /**
   * Every class of each sample (multi-label data). With it, two samples "share a class" when their
   * sets intersect; without it, when their `labels` are equal.
   */
  labelSets?: ReadonlyArray<ArrayLike<number>>;
}

/**
 * Partner index π(i) for each sample.
 * @param labelsOrSize class index per sample (the first label for multi-label data), or the batch
 *   size when there are no labels (then `pairs` must be 'any').
 */
export function pairPartners(rng: Rng, labelsOrSize: Int32Array | number, options: PairingOptions): Int32Array {
  const { pairing, pairs, eligible } = options;
  const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
  if (!PAIRINGS.includes(pairing)) throw new Error(`pairing must be one of ${quoted(PAIRINGS)}; got ${String(pairing)}`);
  if (!PAIRS_POLICIES.includes(pairs)) throw new Error(`pairs must be one of ${quoted(PAIRS_POLICIES)}; got ${String(pairs)}`);
  const labels = typeof labelsOrSize === 'number' ? null : labelsOrSize;
  const n = labels ? labels.length : (labelsOrSize as number);
  if (!Number.isInteger(n) || n < 0) throw new Error(`pairPartners: batch size must be an integer ≥ 0, got ${n}`);
  if (pairs === 'differentClass' && labels == null) {
    throw new Error("pairs 'differentClass' needs labels, got only a batch size");
  }
  if (eligible != null && eligible.length !== n) {
    throw new Error(`pairPartners: eligible has ${eligible.length} entries for a batch of ${n}`);
  }

  const partner = new Int32Array(n);
  for (let i = 0; i < n; i++) partner[i] = i;
  const pool: number[] = [];
  for (let i = 0; i < n; i++) if (eligible == null || eligible[i]) pool.push(i);
  const m = pool.length;
  if (m < 2) return partner;

  if (pairing === 'permutation') {
    const sigma = rng.permutation(m);
    for (let k = 0; k < m; k++) partner[pool[k]] = pool[sigma[k]];
  } else {
    for (let k = 0; k < m; k++) partner[pool[k]] = pool[m - 1 - k];
  }

  if (pairs === 'differentClass' && labels != null) {
    const sets = options.labelSets;
    if (sets != null && sets.length !== n) throw new Error(`pairPartners: labelSets has ${sets.length} entries for a batch of ${n}`);
    const same = sets ? (a: number, b: number) => intersects(sets[a], sets[b]) : (a: number, b: number) => labels[a] === labels[b];
    repairSameClass(rng, same, partner, pool);
  }
  return partner;
}

function intersects(x: ArrayLike<number>, y: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) if (x[i] === y[j]) return true;
  return false;
}

/** The repair of the file header, in place; `same(a, b)` says whether two samples share a class. */
function repairSameClass(rng: Rng, same: (a: number, b: number) => boolean, partner: Int32Array, pool: number[]): void {
  const m = pool.length;
  for (const i of pool) {
    if (!same(partner[i], i)) continue;
    // 1. A bijection-preserving swap, scanning the pool cyclically from a random start.
    const start = rng.int(m);
    let swapped = false;
    for (let s = 0; s < m; s++) {
      const k = pool[(start + s) % m];
      if (k === i) continue;
      if (!same(partner[k], i) && !same(partner[i], k)) {
        const t = partner[i];
        partner[i] = partner[k];
        partner[k] = t;
        swapped = true;
        break;
      }
    }
    if (swapped) continue;
    // 2. Any eligible sample of another class, uniformly.
    const others: number[] = [];
    for (const j of pool) if (!same(j, i)) others.push(j);
    // 3. None: unmixed.
    partner[i] = others.length > 0 ? others[rng.int(others.length)] : i;
  }
}

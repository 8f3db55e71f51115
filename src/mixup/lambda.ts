/**
 * The mixing coefficient λ of mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization",
 * ICLR 2018), also drawn for CutMix (Yun et al., ICCV 2019) and manifold mixup (Verma et al., ICML 2019).
 *
 *   λ ~ Beta(α, α),  drawn as λ = G₁/(G₁ + G₂),  G₁, G₂ ~ Gamma(α, 1)  (scale 1, not rate α).
 *   E[λ] = 1/2,  Var[λ] = 1/(4(2α + 1)).
 *   α ≤ 0 means no mixing: λ = 1.
 *   dominant: λ ← max(λ, 1 − λ) ∈ [1/2, 1], so the sample keeps most of itself (fastai's MixUp);
 *   its label then stays the larger share of the target.
 */
import type { Rng } from '../base/random.js';
import { LAMBDA_MODES, type LambdaMode } from './options.js';

export type { LambdaMode };

export interface LambdaOptions {
  /** Beta(α, α) concentration; α ≤ 0 gives λ = 1 (no mixing). */
  alpha: number;
  /** One λ per sample, or one for the whole batch. */
  mode: LambdaMode;
  /** λ ← max(λ, 1 − λ). */
  dominant: boolean;
}

/** n mixing coefficients in [0, 1] (see the file header for the formula). */
export function sampleLambda(rng: Rng, n: number, options: LambdaOptions): Float32Array {
  const { alpha, mode, dominant } = options;
  if (!Number.isInteger(n) || n < 0) throw new Error(`sampleLambda: n must be an integer ≥ 0, got ${n}`);
  if (Number.isNaN(alpha) || alpha === Infinity) throw new Error(`alpha must be a finite number, got ${alpha}`);
  if (!LAMBDA_MODES.includes(mode)) {
    throw new Error(`lambda mode must be one of ${LAMBDA_MODES.map((m) => `'${m}'`).join(', ')}; got ${String(mode)}`);
  }
  const lam = new Float32Array(n).fill(1);
  if (alpha <= 0 || n === 0) return lam;
  const draw = (): number => {
    const l = rng.beta(alpha, alpha);
    return dominant ? Math.max(l, 1 - l) : l;
  };
  if (mode === 'batch') {
    lam.fill(draw());
  } else {
    for (let i = 0; i < n; i++) lam[i] = draw();
  }
  return lam;
}

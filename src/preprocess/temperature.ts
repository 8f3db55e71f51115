/**
 * Temperature scaling at inference (Guo et al. 2017, §4.2; docs/architecture.md, "Judging"): the
 * last step between a model's probabilities and what `eval`, `predict` and the browser page show.
 * It lives beside the preprocessing because, like it, Node and the browser must run the same code
 * (`export --web` ships this folder). The heads output probabilities, so logits are recovered:
 * z = log p for softmax (logits up to a per-row constant, which softmax ignores), z = log(p/(1−p))
 * for sigmoid; then softmax(z/T) per row or sigmoid(z/T). T = 1 returns a copy.
 */

/** Probabilities rescaled by temperature T: softmax(log p / T) per row, or sigmoid(logit(p) / T). */
export function applyTemperature(probs: Float32Array, k: number, temperature: number, multiLabel: boolean): Float32Array {
  const out = new Float32Array(probs.length);
  if (temperature === 1) {
    out.set(probs);
    return out;
  }
  const beta = 1 / temperature;
  if (multiLabel) {
    for (let i = 0; i < probs.length; i++) {
      const p = Math.min(Math.max(probs[i], 1e-7), 1 - 1e-7);
      out[i] = 1 / (1 + Math.exp(-beta * Math.log(p / (1 - p))));
    }
    return out;
  }
  const z = new Float64Array(k);
  for (let r = 0; r < probs.length / k; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) {
      // log 0 would be −∞; the smallest float32 normal keeps it finite and still far below the rest.
      z[j] = beta * Math.log(Math.max(probs[r * k + j], 1e-38));
      if (z[j] > max) max = z[j];
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum += (z[j] = Math.exp(z[j] - max));
    for (let j = 0; j < k; j++) out[r * k + j] = z[j] / sum;
  }
  return out;
}


/**
 * Learning-rate schedules, as functions of the step (0-based) and the total number of steps.
 * - `constant`: lr (after warm-up).
 * - `cosine`: linear warm-up over `warmup` steps, then lr·½(1 + cos(π·t)) with t the fraction of the
 *   remaining steps done (Loshchilov & Hutter, SGDR, without restarts).
 * - `onecycle`: rises from lr/25 to lr over the warm-up (default 30% of steps), then anneals with a
 *   cosine to lr/1e4 (Smith & Topin, 2018; the PyTorch defaults of div_factor and final_div_factor).
 */
import { SCHEDULES, type ScheduleName } from './options.js';

export { SCHEDULES, type ScheduleName };

export function learningRateAt(name: ScheduleName, lr: number, step: number, total: number, warmup: number): number {
  const cos = (from: number, to: number, t: number) => to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * Math.min(Math.max(t, 0), 1)));
  if (name === 'onecycle') {
    const up = warmup > 0 ? warmup : Math.max(1, Math.round(0.3 * total));
    if (step < up) return cos(lr, lr / 25, 1 - step / up);
    return cos(lr, lr / 25 / 1e4, (step - up) / Math.max(1, total - up));
  }
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if (name === 'constant') return lr;
  return cos(lr, 0, (step - warmup) / Math.max(1, total - warmup));
}

/** Mutes TF.js's Node banner (docs/architecture.md, "Engines"). Imported for its side effect. */
import * as tf from '@tensorflow/tfjs';

/**
 * TF.js's cpu backend greets Node users on its first tensor with a multi-line banner advising
 * tfjs-node. mixhead chooses its backend itself and names it, so the banner is muted: the cpu
 * backend is created with its `firstUse` flag already spent. Runs once, when this module loads,
 * before anything creates a tensor: the modules through which mixhead's code first touches TF.js
 * (backend.ts, tensors.ts, train/checkpoint.ts) import this one for its side effect.
 */
function muteCpuBanner(): void {
  type CpuBackend = tf.KernelBackend & { firstUse?: boolean };
  const created = (tf.engine() as unknown as { registry: Record<string, CpuBackend | undefined> }).registry.cpu;
  if (created) {
    created.firstUse = false;
    return;
  }
  const factory = tf.findBackendFactory('cpu') as (() => CpuBackend) | null;
  if (!factory) return;
  tf.removeBackend('cpu');
  tf.registerBackend(
    'cpu',
    () => {
      const b = factory();
      b.firstUse = false;
      return b;
    },
    1,
  );
}
muteCpuBanner();

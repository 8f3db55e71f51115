/**
 * The intercepting layer: a serializable TF.js layer placed at a cut point of a model.
 *
 * At inference it is the identity. Registered hooks see the activations that flow through it
 * (to record them), and when a mixer is attached and the call is a training call it mixes across
 * the batch: X̃ = M·X with M = diag(λ) + diag(1−λ)·P_π (see `mixingMatrix` in src/mixup), which is
 * manifold mixup (Verma et al., 2019) when the tap sits inside the head. The mix is one MatMul on the
 * flattened activations because the wasm backend has a MatMul gradient but no `gather` gradient.
 */
import * as tf from '@tensorflow/tfjs';

/** Sees the activations of one call. The tensor is disposed after the hook returns: copy what you keep. */
export type TapHook = (activations: tf.Tensor, info: { training: boolean; tap: string }) => void;

/**
 * Decides the mix for one training call of a tap. Returns a row-major B×B mixing matrix, or null to
 * leave this batch unmixed at this tap.
 */
export interface TapMixer {
  mixMatrix(batchSize: number, tapName: string): Float32Array | null;
}

export interface FeatureTapArgs {
  name?: string;
}

export class FeatureTap extends tf.layers.Layer {
  static className = 'FeatureTap';
  private readonly hooks = new Set<TapHook>();
  private mixer: TapMixer | null = null;

  constructor(args: FeatureTapArgs = {}) {
    super({ name: args.name, trainable: false });
    this.supportsMasking = true;
  }

  /** Adds a hook; returns a function that removes it. */
  addHook(hook: TapHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  attachMixer(mixer: TapMixer | null): void {
    this.mixer = mixer;
  }

  hasMixer(): boolean {
    return this.mixer != null;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const training = kwargs?.training === true;
      for (const hook of this.hooks) hook(x, { training, tap: this.name });
      if (!training || this.mixer == null) return x.clone();
      const batch = x.shape[0] ?? 0;
      const m = this.mixer.mixMatrix(batch, this.name);
      if (m == null || batch < 2) return x.clone();
      if (m.length !== batch * batch) {
        throw new Error(`FeatureTap ${this.name}: mixing matrix has ${m.length} entries, batch ${batch} needs ${batch * batch}`);
      }
      const flat = tf.reshape(x, [batch, -1]);
      const mixed = tf.matMul(tf.tensor2d(m, [batch, batch]), flat);
      return tf.reshape(mixed, x.shape);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}

tf.serialization.registerClass(FeatureTap);

/** Whether a layer is an intercepting layer (also after a JSON round trip). */
export function isTap(layer: tf.layers.Layer): layer is FeatureTap {
  return layer instanceof FeatureTap || layer.getClassName() === FeatureTap.className;
}

/** The names of a model's layers with their output shapes, for error messages. */
export function describeLayers(model: tf.LayersModel, limit = 400): string {
  const rows = model.layers.map((l) => `${l.name} ${JSON.stringify(l.outputShape)}`);
  const shown = rows.slice(-limit);
  return (rows.length > shown.length ? `… ${rows.length - shown.length} earlier layers, then\n` : '') + shown.join('\n');
}

interface NodeLike {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

export interface ReapplyArgs {
  /** Drop the model's FeatureTap layers (their input passes straight through). */
  skipTaps?: boolean;
  /** Called with each re-applied layer's output; what it returns replaces that output. */
  after?: (layer: tf.layers.Layer, out: tf.SymbolicTensor | tf.SymbolicTensor[]) => tf.SymbolicTensor | tf.SymbolicTensor[];
}

/**
 * Re-applies every layer of a functional model, in its topological order, starting from `inputs`
 * (one per model input). Layers are shared, so the result has the same weights. Returns the new
 * symbolic outputs. This is how taps are inserted or stripped and how a backbone and a head are
 * joined into one graph of plain layers.
 */
export function reapply(model: tf.LayersModel, inputs: tf.SymbolicTensor[], args: ReapplyArgs = {}): tf.SymbolicTensor[] {
  const mapped = new Map<number, tf.SymbolicTensor>();
  model.inputs.forEach((input, i) => mapped.set(input.id, inputs[i]));
  const own = (model as unknown as { containerNodes: Set<string> }).containerNodes;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const nodes = (layer as unknown as { inboundNodes: NodeLike[] }).inboundNodes;
    // A shared layer has a node per graph it is used in: take the one that belongs to this model.
    const node = nodes.find((_, j) => own.has(`${layer.name}_ib-${j}`));
    if (!node) throw new Error(`cannot rebuild ${model.name}: layer ${layer.name} has no node in this model`);
    const ins = node.inputTensors.map((t) => mapped.get(t.id)!);
    let out: tf.SymbolicTensor | tf.SymbolicTensor[];
    if (args.skipTaps && isTap(layer)) out = ins[0];
    else out = layer.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor | tf.SymbolicTensor[];
    if (args.after) out = args.after(layer, out);
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
  }
  return model.outputs.map((t) => mapped.get(t.id)!);
}

function single(outputs: tf.SymbolicTensor[]): tf.SymbolicTensor | tf.SymbolicTensor[] {
  return outputs.length === 1 ? outputs[0] : outputs;
}

/**
 * Rebuilds a functional model with a `FeatureTap` right after `layerName`.
 * @throws naming the available layers when `layerName` is not in the model.
 */
export function insertTap(model: tf.LayersModel, layerName: string, tap: FeatureTap = new FeatureTap({ name: `tap_${layerName}` })): tf.LayersModel {
  if (!model.layers.some((l) => l.name === layerName)) {
    throw new Error(`layer "${layerName}" is not in the model; its layers are:\n${describeLayers(model)}`);
  }
  const outputs = reapply(model, model.inputs, {
    after: (layer, out) => {
      if (layer.name !== layerName) return out;
      if (Array.isArray(out)) throw new Error(`layer "${layerName}" has several outputs; tap one with a single output`);
      return tap.apply(out) as tf.SymbolicTensor;
    },
  });
  return tf.model({ inputs: model.inputs, outputs: single(outputs), name: `${model.name}_tapped` });
}

/**
 * A copy of the graph without its `FeatureTap` layers, made of stock layers only, so it loads with
 * plain `tf.loadLayersModel`.
 */
export function stripTaps(model: tf.LayersModel): tf.LayersModel {
  const outputs = reapply(model, model.inputs, { skipTaps: true });
  return tf.model({ inputs: model.inputs, outputs: single(outputs), name: model.name.replace(/_tapped$/, '') });
}

/** One graph of plain layers: `first`'s single output feeds `second`'s single input; taps dropped. */
export function composeModels(first: tf.LayersModel, second: tf.LayersModel, name = `${first.name}_${second.name}`): tf.LayersModel {
  const mid = reapply(first, first.inputs, { skipTaps: true });
  if (mid.length !== 1 || second.inputs.length !== 1) throw new Error('composeModels joins a single-output model to a single-input model');
  const out = reapply(second, [mid[0]], { skipTaps: true });
  return tf.model({ inputs: first.inputs, outputs: single(out), name });
}

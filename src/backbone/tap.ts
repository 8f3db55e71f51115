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

/**
 * Rebuilds a functional model with a `FeatureTap` right after `layerName` (the layers are shared,
 * so weights are the same objects). Every layer is re-applied in the model's topological order.
 * @throws naming the available layers when `layerName` is not in the model.
 */
export function insertTap(model: tf.LayersModel, layerName: string, tap: FeatureTap = new FeatureTap({ name: `tap_${layerName}` })): tf.LayersModel {
  if (!model.layers.some((l) => l.name === layerName)) {
    throw new Error(`layer "${layerName}" is not in the model; its layers are:\n${describeLayers(model)}`);
  }
  const mapped = new Map<number, tf.SymbolicTensor>();
  for (const input of model.inputs) mapped.set(input.id, input);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = pickNode(layer, mapped);
    const ins = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) throw new Error(`insertTap: input of layer ${layer.name} was not built yet (model graph not topologically ordered?)`);
      return m;
    });
    let out = layer.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor | tf.SymbolicTensor[];
    if (layer.name === layerName) {
      if (Array.isArray(out)) throw new Error(`layer "${layerName}" has several outputs; tap one with a single output`);
      out = tap.apply(out) as tf.SymbolicTensor;
    }
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
  }
  const outputs = model.outputs.map((t) => mapped.get(t.id)!);
  return tf.model({ inputs: model.inputs, outputs: outputs.length === 1 ? outputs[0] : outputs, name: `${model.name}_tapped` });
}

/** The inbound node of `layer` that belongs to the graph being rebuilt (its inputs are known). */
function pickNode(layer: tf.layers.Layer, mapped: Map<number, tf.SymbolicTensor>): NodeLike {
  const nodes = (layer as unknown as { inboundNodes: NodeLike[] }).inboundNodes;
  const node = nodes.find((n) => n.inputTensors.every((t) => mapped.has(t.id))) ?? nodes[0];
  return node;
}

/**
 * A copy of the graph without its `FeatureTap` layers: every other layer is re-applied, so the
 * result is made of stock layers only and loads with plain `tf.loadLayersModel`.
 */
export function stripTaps(model: tf.LayersModel): tf.LayersModel {
  const mapped = new Map<number, tf.SymbolicTensor>();
  for (const input of model.inputs) mapped.set(input.id, input);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const node = pickNode(layer, mapped);
    const ins = node.inputTensors.map((t) => mapped.get(t.id)!);
    if (isTap(layer)) {
      node.outputTensors.forEach((t) => mapped.set(t.id, ins[0]));
      continue;
    }
    const out = layer.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
  }
  const outputs = model.outputs.map((t) => mapped.get(t.id)!);
  return tf.model({ inputs: model.inputs, outputs: outputs.length === 1 ? outputs[0] : outputs, name: model.name.replace(/_tapped$/, '') });
}

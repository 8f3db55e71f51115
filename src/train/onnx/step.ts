/**
 * One ONNX graph per training step of a head (docs/architecture.md, "Training engines"): the forward
 * pass with the mix at one tap, the loss, the backward pass written out as ordinary ONNX ops, and the
 * optimizer update with TF.js's formulas. Weights and moments go in and their updated values come out;
 * the mixing matrix M, the dropout mask, the lr and the Adam bias corrections are inputs the host
 * draws or computes, so a run repeats and resumes exactly.
 *
 * Heads (src/train/heads.ts), with f the pooled features, mask D and logits z:
 *   linear: z = (M·f ⊙ D)·W + b
 *   mlp:    h = relu((M₀·f)·W₁ + b₁),  z = (M₁·h ⊙ D)·W₂ + b₂
 *   conv:   r = relu(M₀·(X·W₁) + b₁) per cell, p = M₁·mean_cells(r),  z = (p ⊙ D)·W₂ + b₂
 * Only the tap that mixes this step has an M (one graph per tap; `mixTap` null: none). Two exact
 * rewrites save work: the mix comes after pooling (mixing is linear across the batch and pooling is a
 * per-sample mean, so they commute), and for the conv head M₀·(X·W₁) replaces (M₀·X)·W₁ (the same
 * product re-associated; the bias passes through because each row of M sums to 1), which mixes
 * 49×hidden values per sample instead of 49×C.
 *
 * Loss, with s = 1/B (softmax) or 1/(B·K) (sigmoid) and T the host's soft targets (smoothed, then
 * blended by M; for softmax CE the stacked loss equals the blended one since CE is linear in T):
 *   softmax CE: L = −s·Σ T⊙log softmax(z),            ∂L/∂z = s·(softmax(z)·ΣₖT − T)
 *   sigmoid BCE: L = s·Σ max(z,0) − z·T + log(1+e^−|z|),  ∂L/∂z = s·(σ(z) − T)
 * ReLU's derivative is sign(relu(x)) ∈ {0, 1}, one op.
 *
 * Optimizers, exactly as tfjs-core 4.22 applies them (so states agree and checkpoints move between
 * engines), then decoupled weight decay on kernels (Loshchilov & Hutter, 2019), w ← w·(1 − lr·wd):
 *   Adam: m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)·(−lr) + w
 *   SGD with momentum: a ← μa + g;  w ← (−lr)·a + w
 */
import { StepGraph } from './graph.js';

export type StepHeadType = 'linear' | 'mlp' | 'conv';

/** The shape of a head as the graphs see it. */
export interface HeadSpec {
  type: StepHeadType;
  /** Channels of the feature map. */
  channels: number;
  /** H·W of the feature map. */
  cells: number;
  /** Hidden width (mlp) or 1×1-conv channels (conv); unused by linear. */
  hidden: number;
  classes: number;
  /** Whether the head has a dropout layer (its mask is then an input). */
  dropout: boolean;
  multiLabel: boolean;
  /** Inputs are pooled C-vectors (linear and mlp only); else H·W×C maps. */
  pooled: boolean;
}

export interface OptimizerSpec {
  name: 'adam' | 'sgd';
  beta1: number;
  beta2: number;
  epsilon: number;
  momentum: number;
  /** Decay kernels after the update (its factor is an input). */
  weightDecay: boolean;
}

/** The head's weights in the order of `Head.variables`, with their shapes. */
export function paramShapes(h: HeadSpec): { name: string; shape: number[]; kernel: boolean }[] {
  const last = h.type === 'linear' ? h.channels : h.hidden;
  const out = h.type === 'linear' ? [] : [
    { name: 'w1', shape: [h.channels, h.hidden], kernel: true },
    { name: 'b1', shape: [h.hidden], kernel: false },
  ];
  return [...out, { name: 'w2', shape: [last, h.classes], kernel: true }, { name: 'b2', shape: [h.classes], kernel: false }];
}

/** Width of the layer the dropout mask multiplies. */
export function dropoutWidth(h: HeadSpec): number {
  return h.type === 'linear' ? h.channels : h.hidden;
}

/** Names of the step graph's inputs and outputs. */
export function slotNames(opt: OptimizerSpec): string[] {
  return opt.name === 'adam' ? ['m', 'v'] : ['a'];
}

interface Forward {
  /** Pooled (and mixed) features: the input of the first dense layer of linear/mlp. */
  f?: string;
  /** The conv head's rows of X, (B·cells)×C. */
  xr?: string;
  /** Hidden activations before the mix (relu output): mlp B×hidden, conv (B·cells)×hidden. */
  relu?: string;
  /** Input of the last dense layer, after dropout. */
  last: string;
  logits: string;
}

function forward(g: StepGraph, h: HeadSpec, x: string, p: string[], mix: string | null, mixTap: number | null, mask: string | null): Forward {
  const mixed = (t: string, tap: number) => (mix && mixTap === tap ? g.matmul(mix, t) : t);
  const fw: Partial<Forward> = {};
  let a: string;
  if (h.type === 'conv') {
    const xr = g.reshape(x, [-1, h.channels]);
    let pre = g.matmul(xr, p[0]);
    if (mix && mixTap === 0) pre = g.reshape(g.matmul(mix, g.reshape(pre, [-1, h.cells * h.hidden])), [-1, h.hidden]);
    const relu = g.op('Relu', [g.add(pre, p[1])]);
    const pooled = g.op('ReduceMean', [g.reshape(relu, [-1, h.cells, h.hidden])], { axes: [1], keepdims: 0 });
    Object.assign(fw, { xr, relu });
    a = mixed(pooled, 1);
  } else {
    const f = mixed(h.pooled ? x : g.op('ReduceMean', [x], { axes: [1], keepdims: 0 }), 0);
    fw.f = f;
    if (h.type === 'mlp') {
      const relu = g.op('Relu', [g.gemm(f, p[0], p[1])]);
      fw.relu = relu;
      a = mixed(relu, 1);
    } else {
      a = f;
    }
  }
  const last = mask ? g.mul(a, mask) : a;
  const wi = p.length - 2;
  return { ...fw, last, logits: g.gemm(last, p[wi], p[wi + 1]) } as Forward;
}

/** Gradients of the loss for every weight, in `paramShapes` order. */
function backward(g: StepGraph, h: HeadSpec, fw: Forward, dz: string, p: string[], mix: string | null, mixTap: number | null, mask: string | null): string[] {
  const wi = p.length - 2;
  const dW2 = g.gemm(fw.last, dz, null, 1, 0);
  const db2 = g.sumOver(dz, [0]);
  if (h.type === 'linear') return [dW2, db2];
  let da = g.gemm(dz, p[wi], null, 0, 1);
  if (mask) da = g.mul(da, mask);
  // Mix backward: X̃ = M·X ⇒ ∂L/∂X = Mᵀ·∂L/∂X̃.
  const unmix = (t: string, tap: number) => (mix && mixTap === tap ? g.gemm(mix, t, null, 1, 0) : t);
  if (h.type === 'mlp') {
    const dPre = g.mul(unmix(da, 1), g.op('Sign', [fw.relu!]));
    return [g.gemm(fw.f!, dPre, null, 1, 0), g.sumOver(dPre, [0]), dW2, db2];
  }
  // conv: the mean over cells spreads ∂L/∂p/cells to every cell, and spreading commutes with Mᵀ.
  const dPooled = unmix(g.mul(da, g.scalar(1 / h.cells)), 1);
  const relu3 = g.reshape(fw.relu!, [-1, h.cells, h.hidden]);
  const dPre3 = g.mul(g.op('Sign', [relu3]), g.op('Unsqueeze', [dPooled, g.ints([1])]));
  const db1 = g.sumOver(dPre3, [0, 1]);
  let dA = g.reshape(dPre3, [-1, h.cells * h.hidden]);
  if (mix && mixTap === 0) dA = g.gemm(mix, dA, null, 1, 0);
  const dW1 = g.gemm(fw.xr!, g.reshape(dA, [-1, h.hidden]), null, 1, 0);
  return [dW1, db1, dW2, db2];
}

function inputDims(h: HeadSpec): (number | string)[] {
  return h.pooled ? ['batch', h.channels] : ['batch', h.cells, h.channels];
}

/**
 * The training step graph for one tap (`mixTap` 0 = features, 1 = hidden, null = no mix in the
 * graph). Inputs: `x`, [`mix` B×B], [`mask`], `targets`, `scale`, `neg_lr`, Adam: `bc1` = 1−β₁ᵗ and
 * `bc2` = 1−β₂ᵗ, [`decay`], then the weights `w1`… and their slots `m_w1`…, `v_w1`… (Adam) or
 * `a_w1`… (SGD). Outputs: `loss`, then `new_<input>` for every weight and slot.
 */
export function buildStepGraph(h: HeadSpec, opt: OptimizerSpec, mixTap: number | null): Uint8Array {
  if (h.type === 'linear' && mixTap === 1) throw new Error('the linear head has no hidden tap');
  const g = new StepGraph(`step_${h.type}_${mixTap ?? 'none'}`);
  const x = g.input('x', inputDims(h));
  const mix = mixTap != null ? g.input('mix', ['batch', 'batch']) : null;
  const mask = h.dropout ? g.input('mask', ['batch', dropoutWidth(h)]) : null;
  const targets = g.input('targets', ['batch', h.classes]);
  const scale = g.input('scale', []);
  const negLr = g.input('neg_lr', []);
  const bc1 = opt.name === 'adam' ? g.input('bc1', []) : '';
  const bc2 = opt.name === 'adam' ? g.input('bc2', []) : '';
  const decay = opt.weightDecay ? g.input('decay', []) : '';
  const shapes = paramShapes(h);
  const p = shapes.map((s) => g.input(s.name, s.shape));
  const slots = slotNames(opt).map((prefix) => shapes.map((s) => g.input(`${prefix}_${s.name}`, s.shape)));

  const fw = forward(g, h, x, p, mix, mixTap, mask);
  let loss: string;
  let dz: string;
  if (h.multiLabel) {
    const z = fw.logits;
    const terms = g.add(g.sub(g.op('Relu', [z]), g.mul(z, targets)), g.op('Log', [g.add(g.scalar(1), g.op('Exp', [g.op('Neg', [g.op('Abs', [z])])]))]));
    loss = g.mul(g.op('ReduceSum', [terms], { keepdims: 0 }), scale);
    dz = g.mul(g.sub(g.op('Sigmoid', [z]), targets), scale);
  } else {
    const logp = g.op('LogSoftmax', [fw.logits], { axis: -1 });
    loss = g.mul(g.op('Neg', [g.op('ReduceSum', [g.mul(targets, logp)], { keepdims: 0 })]), scale);
    const rowSum = g.sumOver(targets, [1], 1);
    dz = g.mul(g.sub(g.mul(g.op('Exp', [logp]), rowSum), targets), scale);
  }
  g.output(loss, 'loss', []);
  const grads = backward(g, h, fw, dz, p, mix, mixTap, mask);

  const b1 = g.scalar(opt.beta1);
  const b2 = g.scalar(opt.beta2);
  // tfjs computes 1 − β in float64 before it becomes a float32 scalar: the same value here.
  const ob1 = g.scalar(1 - opt.beta1);
  const ob2 = g.scalar(1 - opt.beta2);
  const eps = g.scalar(opt.epsilon);
  const mom = g.scalar(opt.momentum);
  shapes.forEach((s, i) => {
    const gr = grads[i];
    let w: string;
    if (opt.name === 'adam') {
      const m = g.add(g.mul(slots[0][i], b1), g.mul(gr, ob1));
      const v = g.add(g.mul(slots[1][i], b2), g.mul(g.mul(gr, gr), ob2));
      const step = g.div(g.div(m, bc1), g.add(g.op('Sqrt', [g.div(v, bc2)]), eps));
      w = g.add(g.mul(step, negLr), p[i]);
      g.output(m, `new_m_${s.name}`, s.shape);
      g.output(v, `new_v_${s.name}`, s.shape);
    } else {
      const a = g.add(g.mul(slots[0][i], mom), gr);
      w = g.add(g.mul(a, negLr), p[i]);
      g.output(a, `new_a_${s.name}`, s.shape);
    }
    if (opt.weightDecay && s.kernel) w = g.mul(w, decay);
    g.output(w, `new_${s.name}`, s.shape);
  });
  return g.encode();
}

/** Inference: `x` and the weights in, probabilities out (softmax, or sigmoid for multi-label). */
export function buildPredictGraph(h: HeadSpec): Uint8Array {
  const g = new StepGraph(`predict_${h.type}`);
  const x = g.input('x', inputDims(h));
  const p = paramShapes(h).map((s) => g.input(s.name, s.shape));
  const fw = forward(g, h, x, p, null, null, null);
  g.output(h.multiLabel ? g.op('Sigmoid', [fw.logits]) : g.op('Softmax', [fw.logits], { axis: -1 }), 'probabilities', ['batch', h.classes]);
  return g.encode();
}

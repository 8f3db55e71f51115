/**
 * Training engines: what the loop in trainer.ts asks for one optimizer step and for an evaluation
 * (docs/architecture.md, "Training engines").
 *
 * - `onnx`: the step graphs of src/train/onnx on ONNX Runtime, all cores. Weights and optimizer
 *   slots live on the host between steps; they are written into the TF.js layers and optimizer at the
 *   end of every epoch (`toTfjs`), so best-epoch tracking, checkpoints and export see them exactly as
 *   with TF.js, and read back after a restore (`fromTfjs`).
 * - `tfjs`: TF.js autodiff on the selected backend (wasm, or tfjs-node when installed): the reference
 *   the ONNX step is tested against, and the engine when onnxruntime-node does not load.
 * - `auto`: onnx when onnxruntime-node loads, else tfjs with a line saying why.
 *
 * Dropout: TF.js draws its own mask from the per-step seed (Head.setDropoutSeed); the ONNX step takes
 * the mask as an input drawn on the host from the same seed, so both repeat and resume exactly, each
 * with its own masks.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../base/random.js';
import type { MixPlan, Mixer } from '../mixup/index.js';
import type { Head } from './heads.js';
import type { FeatureSet } from './features.js';
import { batchLoss, weighted } from './losses.js';
import { predictRowsWith, predictSet } from './predict.js';
import { loadOrt } from '../engine/onnx.js';
import { OptionError } from '../base/errors.js';
import { OnnxHeadSession } from './onnx/session.js';
import { dropoutWidth, type HeadSpec } from './onnx/step.js';
import { loadFromTfjs, storeToTfjs } from './onnx/tfjs-state.js';
import type { OptimizerName, TrainEngineChoice } from './options.js';

export type TrainEngineName = 'onnx' | 'tfjs';

/** One step's inputs, as the loop has them. */
export interface StepBatch {
  /** n input rows (host-mixed unless `mix` is given). */
  x: Float32Array;
  n: number;
  plan: MixPlan;
  mixer: Mixer;
  /** The mix the step applies inside the head (tap index and n×n matrix), or null. */
  mix: { tap: number; matrix: Float32Array } | null;
  /** The batch's unmixed targets, n×K. */
  targets: Float32Array;
  lr: number;
  /** Seed of this step's dropout mask. */
  dropoutSeed: number;
  /** Single-label: per-class loss weights (balance.ts `classWeights`). */
  classWeights?: Float32Array;
  /** Multi-label: per-label positive weights (balance.ts `positiveWeights`); the tfjs engine only. */
  posWeights?: Float32Array;
}

export interface TrainEngine {
  readonly name: TrainEngineName;
  /** For output lines, meta.json and the report, e.g. `onnx (onnxruntime 1.30.0, cpu, 2 threads)`. */
  readonly description: string;
  /** Whether feature-level mixup of full maps happens inside the step (M as input) rather than on host rows. */
  readonly mixesMapsInGraph: boolean;
  /** One optimizer step (with weight decay); resolves with the loss before the update. */
  step(b: StepBatch): Promise<number>;
  /** Probabilities for every sample of `set` (inference: never mixed, no dropout). */
  predict(set: FeatureSet): Promise<Float32Array>;
  /** Writes the engine's weights and optimizer state into the TF.js head and optimizer. */
  toTfjs(): Promise<void>;
  /** Reads the TF.js head's weights and optimizer state (after a checkpoint or a restore). */
  fromTfjs(): Promise<void>;
  close(): Promise<void>;
}

export interface EngineArgs {
  head: Head;
  optimizer: tf.Optimizer;
  optimizerName: OptimizerName;
  momentum: number;
  weightDecay: number;
  featureShape: number[];
  numClasses: number;
  multiLabel: boolean;
  labelMode: 'stack' | 'blend';
  labelSmoothing: number;
  /** ONNX Runtime intra-op threads; default all cores. */
  threads?: number;
  /** Multi-label with positive weights (balance 'weights'): a loss only the tfjs engine has. */
  positiveWeighted?: boolean;
}

/**
 * Sets the learning rate for the next step. SGD and momentum keep it as a scalar tensor (`c`) that
 * only their own `setLearningRate` refreshes; Adam reads its `learningRate` field on every step.
 */
export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.learningRate === lr) return;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** TF.js autodiff: the step the trainer has always taken. */
export class TfjsEngine implements TrainEngine {
  readonly name = 'tfjs';
  readonly description: string;
  readonly mixesMapsInGraph = false;
  private readonly vars: tf.Variable[];

  constructor(private readonly a: EngineArgs) {
    this.vars = a.head.train.trainableWeights.map((v) => v.read() as tf.Variable);
    this.description = `tfjs (${tf.getBackend()})`;
  }

  async step(b: StepBatch): Promise<number> {
    const { head, optimizer } = this.a;
    const [h, w, c] = this.a.featureShape;
    const k = this.a.numClasses;
    setLearningRate(optimizer, b.lr);
    // The hidden mix reaches the FeatureTaps through the batch source's TapMixer (batches.ts).
    const loss = tf.tidy(() => {
      const input = tf.tensor(b.x.subarray(0, b.n * (head.pooled ? c : h * w * c)), head.pooled ? [b.n, c] : [b.n, h, w, c]);
      const lossFn = (): tf.Scalar =>
        batchLoss(head.train.apply(input, { training: true }) as tf.Tensor, { targets: b.targets, k, multiLabel: this.a.multiLabel, labelMode: this.a.labelMode, labelSmoothing: this.a.labelSmoothing, plan: b.plan, mixer: b.mixer, classWeights: b.classWeights, posWeights: b.posWeights });
      return optimizer.minimize(lossFn, true, this.vars)!.dataSync()[0];
    });
    if (this.a.weightDecay > 0) {
      // Decoupled weight decay on kernels (Loshchilov & Hutter, 2019): w ← w·(1 − lr·wd) after the step.
      tf.tidy(() => {
        for (const v of head.train.trainableWeights) {
          if (v.name.includes('kernel')) (v.read() as tf.Variable).assign(tf.mul(v.read(), 1 - b.lr * this.a.weightDecay));
        }
      });
    }
    return loss;
  }

  async predict(set: FeatureSet): Promise<Float32Array> {
    return predictSet(this.a.head, set);
  }

  async toTfjs(): Promise<void> {}
  async fromTfjs(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The head's shape as the ONNX step graphs take it. */
export function headSpecOf(head: Head, featureShape: number[], numClasses: number, multiLabel: boolean): HeadSpec {
  const [h, w, c] = featureShape;
  const layer = (name: string) => head.train.layers.find((l) => l.name === name);
  const hidden = (layer('hidden') ?? layer('conv1x1'))?.getConfig().units as number | undefined;
  return { type: head.type, channels: c, cells: h * w, hidden: hidden ?? 0, classes: numClasses, dropout: layer('dropout') != null, multiLabel, pooled: head.pooled };
}

/** The ONNX Runtime step (src/train/onnx). */
export class OnnxEngine implements TrainEngine {
  readonly name = 'onnx';
  readonly mixesMapsInGraph = true;
  private mask: Float32Array | null = null;
  /** The evaluation's batch buffer, kept between epochs (1.3 MB for pooled mlp inputs). */
  private readonly predictScratch: { buf?: Float32Array } = {};
  private readonly keep: number;

  private constructor(
    private readonly a: EngineArgs,
    private readonly session: OnnxHeadSession,
  ) {
    const rate = a.head.train.layers.find((l) => l.name === 'dropout')?.getConfig().rate as number | undefined;
    this.keep = 1 - (rate ?? 0);
  }

  get description(): string {
    return `onnx (${this.session.description})`;
  }

  static async create(a: EngineArgs): Promise<OnnxEngine> {
    const spec = headSpecOf(a.head, a.featureShape, a.numClasses, a.multiLabel);
    const adam = a.optimizerName !== 'sgd';
    // tfjs's Adam takes ε from the backend (1e-7 on float32 backends): use the optimizer's own.
    const epsilon = (a.optimizer as unknown as { epsilon?: number }).epsilon ?? 1e-7;
    const session = await OnnxHeadSession.create(
      spec,
      { name: adam ? 'adam' : 'sgd', beta1: 0.9, beta2: 0.999, epsilon, momentum: a.momentum, weightDecay: a.weightDecay > 0 },
      a.threads,
    );
    const engine = new OnnxEngine(a, session);
    await engine.fromTfjs();
    return engine;
  }

  /** Dropout multipliers, 1/keep with probability keep else 0, from the step's seed (inverted dropout, as tf.dropout). */
  private drawMask(n: number, seed: number): Float32Array {
    const width = dropoutWidth(this.session.head);
    if (!this.mask || this.mask.length < n * width) this.mask = new Float32Array(n * width);
    const m = this.mask.subarray(0, n * width);
    // Kept with probability keep: one 32-bit draw per unit (a 53-bit uniform costs two, and the mask
    // is the largest thing the host draws per step).
    return new Rng(seed).fillBernoulli(m, Math.floor(this.keep * 2 ** 32), 1 / this.keep);
  }

  step(b: StepBatch): Promise<number> {
    if (b.posWeights) throw new Error('the onnx train engine has no positive-weighted BCE (multi-label balance "weights"): use --train-engine tfjs');
    // Class weights scale the target columns (losses.ts); the step's gradient s·(softmax·ΣₖT − T) holds for any T.
    const targets = weighted(b.mixer.applyToTargets(b.plan, b.targets), this.a.numClasses, b.classWeights);
    return this.session.step({
      x: b.x,
      n: b.n,
      mix: b.mix,
      mask: this.session.head.dropout ? this.drawMask(b.n, b.dropoutSeed) : null,
      // Smoothed, then blended by the plan: for softmax CE the stacked loss is the same (CE is linear in its targets).
      targets,
      lr: b.lr,
      decay: 1 - b.lr * this.a.weightDecay,
    });
  }

  predict(set: FeatureSet): Promise<Float32Array> {
    return predictRowsWith((x, n) => this.session.predict(x, n), set, this.a.head.pooled, set.classes.length, 256, this.predictScratch);
  }

  toTfjs(): Promise<void> {
    return storeToTfjs(this.session, this.a.head.train.trainableWeights, this.a.optimizer);
  }

  fromTfjs(): Promise<void> {
    return loadFromTfjs(this.session, this.a.head.train.trainableWeights, this.a.optimizer);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

/**
 * The engine for a run: `onnx` (an error when onnxruntime-node does not load), `tfjs`, or `auto`
 * (onnx when it loads, else tfjs with a line through `log` saying why).
 */
export async function createTrainEngine(
  choice: TrainEngineChoice,
  a: EngineArgs,
  log?: (line: string) => void,
  /** How onnxruntime-node is loaded (tests pass one that fails). */
  load: typeof loadOrt = loadOrt,
): Promise<TrainEngine> {
  if (choice === 'tfjs') return new TfjsEngine(a);
  if (a.positiveWeighted) {
    const why = 'the positive-weighted BCE of multi-label balance "weights" is on the tfjs engine only';
    if (choice === 'onnx') throw new OptionError(`train engine onnx: ${why}; use --train-engine tfjs or auto`);
    log?.(`train engine: ${why}; training on TF.js (${tf.getBackend()})`);
    return new TfjsEngine(a);
  }
  const ort = await load();
  if ('error' in ort) {
    if (choice === 'onnx') throw new Error(`train engine onnx: onnxruntime-node does not load (${ort.error}); use --train-engine tfjs`);
    log?.(`train engine: onnxruntime-node does not load (${ort.error}); training on TF.js (${tf.getBackend()})`);
    return new TfjsEngine(a);
  }
  return OnnxEngine.create(a);
}

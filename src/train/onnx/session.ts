/**
 * Runs a head's training steps and predictions on ONNX Runtime (docs/architecture.md, "Training
 * engines"). The weights and optimizer slots live on the host in two sets of buffers: a step reads
 * one set and ONNX Runtime writes the updated values straight into the other (preallocated `fetches`),
 * then the sets swap. (onnxruntime-node also returns a copy of every fetch, which this code does not
 * read once it has seen the fetches written: see `step`.)
 */
import type * as Ort from 'onnxruntime-node';
import { loadOrt, ortVersion, defaultThreads } from '../../engine/onnx.js';
import { buildPredictGraph, buildStepGraph, paramShapes, slotNames, type HeadSpec, type OptimizerSpec } from './step.js';

type OrtModule = typeof Ort;

export interface OnnxStepInputs {
  /** n rows of the head's input (pooled C-vectors or H·W×C maps). */
  x: Float32Array;
  n: number;
  /** The tap that mixes (0 features, 1 hidden) and its row-major n×n matrix; null: no mix in the graph. */
  mix: { tap: number; matrix: Float32Array } | null;
  /** n×width dropout multipliers (0 or 1/keep), when the head has dropout. */
  mask: Float32Array | null;
  /** n×K soft targets (smoothed and blended on the host). */
  targets: Float32Array;
  lr: number;
  /** Kernel decay factor 1 − lr·wd (used when the optimizer spec has weightDecay). */
  decay: number;
}

/** The optimizer's state in TF.js's terms: step count and Adam's running β powers. */
export interface OptimizerCounters {
  iterations: number;
  /** β₁ᵗ⁺¹ and β₂ᵗ⁺¹ as tfjs's AdamOptimizer keeps them (its `accBeta1`, `accBeta2`). */
  accBeta1: number;
  accBeta2: number;
}

export class OnnxHeadSession {
  /** The current weights (paramShapes order); valid until the next step. */
  params: Float32Array[];
  /** The current optimizer slots: [m, v] (Adam) or [a] (SGD), each in paramShapes order. */
  slots: Float32Array[][];
  counters: OptimizerCounters;
  private spare: { params: Float32Array[]; slots: Float32Array[][] };
  private readonly steps = new Map<string, Promise<Ort.InferenceSession>>();
  private predictSession?: Promise<Ort.InferenceSession>;
  private readonly shapes: { name: string; shape: number[]; kernel: boolean }[];
  private readonly lossOut: Ort.Tensor;
  /** Whether ONNX Runtime writes the updated state into the preallocated fetches (checked once). */
  private fetchesWritten?: boolean;

  private constructor(
    private readonly ort: OrtModule,
    readonly head: HeadSpec,
    readonly optimizer: OptimizerSpec,
    private readonly threads: number,
    readonly description: string,
  ) {
    this.shapes = paramShapes(head);
    const zeros = () => this.shapes.map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
    this.params = zeros();
    this.slots = slotNames(optimizer).map(zeros);
    this.spare = { params: zeros(), slots: slotNames(optimizer).map(zeros) };
    this.counters = { iterations: 0, accBeta1: Math.fround(optimizer.beta1), accBeta2: Math.fround(optimizer.beta2) };
    this.lossOut = new ort.Tensor('float32', new Float32Array(1), []);
  }

  /** @throws when onnxruntime-node does not load (the message says why). */
  static async create(head: HeadSpec, optimizer: OptimizerSpec, threads = defaultThreads()): Promise<OnnxHeadSession> {
    const m = await loadOrt();
    if ('error' in m) throw new Error(`onnxruntime-node does not load: ${m.error}`);
    return new OnnxHeadSession(m, head, optimizer, threads, `onnxruntime ${ortVersion(m)} (cpu, ${threads} threads)`);
  }

  private open(model: Uint8Array): Promise<Ort.InferenceSession> {
    return this.ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // Idle intra-op threads do not spin-wait between ops. A step is many short ops; beside other busy
      // processes spinning threads hold the cores the working one needs: measured on 2 loaded cores
      // (load ~10), the mlp step ran at 600–940 samples/s spinning and 2,400–8,100 not.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  }

  private stepSession(tap: number | null): Promise<Ort.InferenceSession> {
    const key = String(tap);
    let s = this.steps.get(key);
    if (!s) {
      s = this.open(buildStepGraph(this.head, this.optimizer, tap));
      this.steps.set(key, s);
    }
    return s;
  }

  private tensor(data: Float32Array, dims: number[]): Ort.Tensor {
    return new this.ort.Tensor('float32', data, dims);
  }

  private inputDims(n: number): number[] {
    return this.head.pooled ? [n, this.head.channels] : [n, this.head.cells, this.head.channels];
  }

  /** One optimizer step; resolves with the step's loss (before the update, as TF.js's minimize returns). */
  async step(s: OnnxStepInputs): Promise<number> {
    const h = this.head;
    const n = s.n;
    const session = await this.stepSession(s.mix?.tap ?? null);
    const scalar = (v: number) => this.tensor(Float32Array.of(v), []);
    const feeds: Record<string, Ort.Tensor> = {
      x: this.tensor(s.x.subarray(0, n * (h.pooled ? h.channels : h.cells * h.channels)), this.inputDims(n)),
      targets: this.tensor(s.targets, [n, h.classes]),
      scale: scalar(h.multiLabel ? 1 / (n * h.classes) : 1 / n),
      neg_lr: scalar(-s.lr),
    };
    if (s.mix) feeds.mix = this.tensor(s.mix.matrix, [n, n]);
    if (h.dropout) {
      if (!s.mask) throw new Error('this head has dropout: the step needs its mask');
      feeds.mask = this.tensor(s.mask, [n, s.mask.length / n]);
    }
    const c = this.counters;
    if (this.optimizer.name === 'adam') {
      // tfjs: sub(1, accBeta1) in float32.
      feeds.bc1 = scalar(1 - c.accBeta1);
      feeds.bc2 = scalar(1 - c.accBeta2);
    }
    if (this.optimizer.weightDecay) feeds.decay = scalar(s.decay);
    const fetches: Record<string, Ort.Tensor> = { loss: this.lossOut };
    const prefixes = slotNames(this.optimizer);
    this.shapes.forEach((p, i) => {
      feeds[p.name] = this.tensor(this.params[i], p.shape);
      fetches[`new_${p.name}`] = this.tensor(this.spare.params[i], p.shape);
      prefixes.forEach((prefix, j) => {
        feeds[`${prefix}_${p.name}`] = this.tensor(this.slots[j][i], p.shape);
        fetches[`new_${prefix}_${p.name}`] = this.tensor(this.spare.slots[j][i], p.shape);
      });
    });
    const out = await session.run(feeds, fetches);
    // onnxruntime-node runs the graph into the preallocated fetches and then hands back copies of
    // them (new buffers, ~8 MB a step for the mlp head). Whether the fetches were written is checked
    // on the first step; after that the copies are not copied again (~10% of an mlp step).
    const pairs: [Float32Array, Float32Array][] = [];
    this.shapes.forEach((p, i) => {
      pairs.push([out[`new_${p.name}`].data as Float32Array, this.spare.params[i]]);
      prefixes.forEach((prefix, j) => pairs.push([out[`new_${prefix}_${p.name}`].data as Float32Array, this.spare.slots[j][i]]));
    });
    this.fetchesWritten ??= pairs.every(([got, mine]) => got === mine || sameValues(got, mine));
    if (!this.fetchesWritten) for (const [got, mine] of pairs) if (got !== mine) mine.set(got);
    const current = { params: this.params, slots: this.slots };
    this.params = this.spare.params;
    this.slots = this.spare.slots;
    this.spare = current;
    c.iterations++;
    if (this.optimizer.name === 'adam') {
      c.accBeta1 = Math.fround(c.accBeta1 * Math.fround(this.optimizer.beta1));
      c.accBeta2 = Math.fround(c.accBeta2 * Math.fround(this.optimizer.beta2));
    }
    return (out.loss.data as Float32Array)[0];
  }

  /** Probabilities of n rows under the current weights (inference: no mix, no dropout). */
  async predict(x: Float32Array, n: number): Promise<Float32Array> {
    this.predictSession ??= this.open(buildPredictGraph(this.head));
    const session = await this.predictSession;
    const feeds: Record<string, Ort.Tensor> = { x: this.tensor(x, this.inputDims(n)) };
    this.shapes.forEach((p, i) => (feeds[p.name] = this.tensor(this.params[i], p.shape)));
    const out = await session.run(feeds);
    return out.probabilities.data as Float32Array;
  }

  async close(): Promise<void> {
    const all = [...this.steps.values(), ...(this.predictSession ? [this.predictSession] : [])];
    for (const s of all) await (await s).release();
    this.steps.clear();
    this.predictSession = undefined;
  }
}

/** Bitwise equality of two float arrays (NaN payloads included). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * A backbone from any TF.js GraphModel, cut at a named node. Activations come from
 * `model.execute(x, node)`; they pass through a `FeatureTap` so hooks see them as for LayersModels.
 * Without a node name, the cut is the input of the model's last global pooling node (AvgPool or
 * Mean): in a classification CNN that is the last conv activation. Node names are read from the
 * model's own graph, never hard-coded, since converted models name them differently.
 */
import * as tf from '@tensorflow/tfjs';
import type { Backbone, PreprocessSpec } from './types.js';
import { FeatureTap } from './tap.js';
import { DEFAULT_PREPROCESS } from './layers.js';
import { loadGraphModelFrom } from './io.js';

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { shape?: { dim?: { size: string }[] } }>;
}

export interface GraphBackboneArgs {
  id: string;
  model: tf.GraphModel;
  artifacts: tf.io.ModelArtifacts;
  weightsHash: string;
  node?: string;
  preprocess?: Partial<PreprocessSpec>;
}

function graphNodes(artifacts: tf.io.ModelArtifacts): GraphNode[] {
  const topo = artifacts.modelTopology as { node?: GraphNode[] } | undefined;
  return topo?.node ?? [];
}

/** Strips `^` (control input) and `:k` (output index) from an input reference. */
function nodeOf(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

/** The input of the last global pooling node, or undefined when there is none. */
export function findPoolInput(artifacts: tf.io.ModelArtifacts): string | undefined {
  const nodes = graphNodes(artifacts);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if ((n.op === 'AvgPool' || n.op === 'Mean') && n.input?.length) return nodeOf(n.input[0]);
  }
  return undefined;
}

export class GraphBackbone implements Backbone {
  readonly id: string;
  readonly weightsHash: string;
  readonly cut: string;
  readonly kind = 'graph' as const;
  readonly preprocess: PreprocessSpec;
  readonly featureShape: number[];
  readonly tap: FeatureTap;
  /** The model's topology and weights as loaded (the ONNX converter reads them). */
  readonly artifacts: tf.io.ModelArtifacts;
  private readonly model: tf.GraphModel;

  constructor(args: GraphBackboneArgs) {
    this.id = args.id;
    this.model = args.model;
    this.artifacts = args.artifacts;
    this.weightsHash = args.weightsHash;
    const nodes = graphNodes(args.artifacts);
    const names = new Set(nodes.map((n) => n.name));
    const cut = args.node ?? findPoolInput(args.artifacts);
    if (!cut) {
      throw new Error(`${args.id}: no global pooling node to cut before; name a node with --node. Nodes:\n${listNodes(nodes)}`);
    }
    if (!names.has(cut)) {
      throw new Error(`node "${cut}" is not in ${args.id}; its nodes are:\n${listNodes(nodes, args.model)}`);
    }
    this.cut = cut;
    this.tap = new FeatureTap({ name: `tap_${cut.replace(/[^A-Za-z0-9_]/g, '_')}` });
    const inShape = args.model.inputs[0]?.shape;
    const size = args.preprocess?.size ?? (inShape && inShape[1] > 0 ? inShape[1] : DEFAULT_PREPROCESS.size);
    this.preprocess = { ...DEFAULT_PREPROCESS, ...args.preprocess, size };
    this.featureShape = tf.tidy(() => {
      const probe = this.model.execute(tf.zeros([1, size, size, 3]), cut) as tf.Tensor;
      return probe.shape.slice(1);
    });
  }

  extract(batch: tf.Tensor4D): tf.Tensor {
    return tf.tidy(() => this.tap.apply(this.model.execute(batch, this.cut) as tf.Tensor) as tf.Tensor);
  }

  graphModel(): tf.GraphModel {
    return this.model;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Node names with their ops and, when a model is given, output shapes from one dummy execution
 * (a GraphModel does not record shapes of intermediate nodes).
 */
function listNodes(nodes: GraphNode[], model?: tf.GraphModel): string {
  const candidates = nodes.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && n.op !== 'NoOp');
  let shapes: Map<string, number[]> | undefined;
  if (model) {
    try {
      const size = model.inputs[0]?.shape?.[1] && model.inputs[0].shape[1] > 0 ? model.inputs[0].shape[1] : 224;
      const input = tf.zeros([1, size, size, 3]);
      const outs = model.execute(input, candidates.map((n) => n.name)) as tf.Tensor[];
      shapes = new Map(candidates.map((n, i) => [n.name, outs[i].shape]));
      tf.dispose([input, ...outs]);
    } catch {
      shapes = undefined;
    }
  }
  return candidates.map((n) => `${n.name} (${n.op})${shapes?.get(n.name) ? ' ' + JSON.stringify(shapes.get(n.name)) : ''}`).join('\n');
}

/** A GraphModel from a directory, a model.json path or an http(s) URL, cut at `node`. */
export async function loadGraphBackbone(location: string, node?: string, preprocess?: Partial<PreprocessSpec>, id = `graph:${location}`): Promise<GraphBackbone> {
  const { model, weightsHash, artifacts } = await loadGraphModelFrom(location);
  return new GraphBackbone({ id, model, artifacts, weightsHash, node, preprocess });
}

/**
 * TF.js → ONNX: a backbone truncated at its cut becomes the bytes of an ONNX model with an NHWC
 * input [batch, size, size, 3] and an NHWC output [batch, ...featureShape], the same layouts as the
 * TF.js backbone (docs/engine.md explains the layouts, the BN fold and the padding).
 */
import type { Backbone } from '../../backbone/types.js';
import { LayersBackbone } from '../../backbone/layers.js';
import { GraphBackbone } from '../../backbone/graph.js';
import { convertLayersModel } from './layers.js';
import { convertGraphModel } from './graph.js';
import { encodeModel } from './proto.js';
import { UnsupportedOpError, type OnnxGraph } from './emit.js';

export { UnsupportedOpError } from './emit.js';
export { tfPadding } from './emit.js';
export { convertLayersModel } from './layers.js';
export { convertGraphModel } from './graph.js';
export { encodeModel } from './proto.js';

/** Bumped whenever the converter's output changes, so stored conversions are redone. */
export const CONVERTER_VERSION = 1;

/** The ONNX graph of a backbone (before serialisation). @throws UnsupportedOpError naming the first uncovered layer or op. */
export function backboneGraph(backbone: Backbone): OnnxGraph {
  const size = backbone.preprocess.size;
  let g: OnnxGraph;
  if (backbone instanceof LayersBackbone) g = convertLayersModel(backbone.truncated(), size);
  else if (backbone instanceof GraphBackbone) g = convertGraphModel(backbone.artifacts, backbone.cut, size);
  else throw new UnsupportedOpError(`the ONNX converter does not know backbones of kind ${backbone.kind} (${backbone.id})`);
  const want = backbone.featureShape.join('×');
  const got = g.output!.shape.join('×');
  if (want !== got) throw new Error(`ONNX conversion of ${backbone.id} gives ${got} maps where TF.js gives ${want}`);
  return g;
}

/** The ONNX model bytes of a backbone. */
export function convertBackbone(backbone: Backbone): Uint8Array {
  return encodeModel(backboneGraph(backbone), `${backbone.id} cut at ${backbone.cut}, converted by mixhead (converter v${CONVERTER_VERSION})`);
}

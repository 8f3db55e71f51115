/**
 * A GraphModel written by hand in the TF.js graph-model format, with the ops TF's converter leaves
 * in the tfjs-models MobileNets and ResNets: Pad → _FusedConv2D(BiasAdd, Relu6) stride 2 VALID →
 * FusedDepthwiseConv2dNative(BiasAdd, Relu6) → Conv2D → FusedBatchNormV3 → AddV2 (residual) → Relu →
 * MaxPool 3×3/2 SAME → AvgPool 3×3/1 SAME → _FusedConv2D(BiasAdd, Relu) stride 2 SAME → Identity.
 * Input 32×32×3; the cut gives 4×4×16. Weights are seeded random numbers.
 */
import type * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/base/random.js';

export const FUSED_CUT = 'features/Identity';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const F = { type: 'DT_FLOAT' };
const list = (xs: number[]) => ({ list: { i: xs.map(String) } });

export function fusedGraphModel(seed = 1): { artifacts: tf.io.ModelArtifacts } {
  const rng = new Rng(seed);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  const nodes: object[] = [{ name: 'images', op: 'Placeholder', attr: { dtype: F, shape: { shape: dims([-1, 32, 32, 3]) } } }];
  const constant = (name: string, shape: number[], lo = -0.5, hi = 0.5, dtype: 'float32' | 'int32' = 'float32', values?: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = dtype === 'int32' ? Int32Array.from(values!) : Float32Array.from(values ?? Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()));
    specs.push({ name, shape, dtype });
    buffers.push(Buffer.from(data.buffer));
    const t = dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
    nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: t, tensorShape: dims(shape) } }, dtype: { type: t } } });
    return name;
  };
  const conv = (strides: number, padding: string) => ({ T: F, strides: list([1, strides, strides, 1]), padding: { s: b64(padding) }, data_format: { s: b64('NHWC') }, dilations: list([1, 1, 1, 1]) });
  const fused = (ops: string[]) => ({ fused_ops: { list: { s: ops.map(b64) } }, num_args: { i: '1' }, epsilon: { f: 0 } });

  constant('pad/paddings', [4, 2], 0, 0, 'int32', [0, 0, 0, 1, 0, 1, 0, 0]);
  nodes.push({ name: 'pad', op: 'Pad', input: ['images', 'pad/paddings'], attr: { T: F, Tpaddings: { type: 'DT_INT32' } } });
  constant('conv1/w', [3, 3, 3, 8]);
  constant('conv1/b', [8]);
  nodes.push({ name: 'conv1', op: '_FusedConv2D', input: ['pad', 'conv1/w', 'conv1/b'], attr: { ...conv(2, 'VALID'), ...fused(['BiasAdd', 'Relu6']) } });
  constant('dw/w', [3, 3, 8, 1]);
  constant('dw/b', [8]);
  nodes.push({ name: 'dw', op: 'FusedDepthwiseConv2dNative', input: ['conv1', 'dw/w', 'dw/b'], attr: { ...conv(1, 'SAME'), ...fused(['BiasAdd', 'Relu6']) } });
  constant('pw/w', [1, 1, 8, 8]);
  nodes.push({ name: 'pw', op: 'Conv2D', input: ['dw', 'pw/w'], attr: conv(1, 'SAME') });
  constant('bn/scale', [8], 0.5, 1.5);
  constant('bn/offset', [8]);
  constant('bn/mean', [8]);
  constant('bn/var', [8], 0.3, 1.5);
  nodes.push({ name: 'bn', op: 'FusedBatchNormV3', input: ['pw', 'bn/scale', 'bn/offset', 'bn/mean', 'bn/var'], attr: { T: F, U: F, epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') }, is_training: { b: false } } });
  nodes.push({ name: 'add', op: 'AddV2', input: ['bn', 'conv1'], attr: { T: F } });
  nodes.push({ name: 'relu', op: 'Relu', input: ['add'], attr: { T: F } });
  nodes.push({ name: 'maxpool', op: 'MaxPool', input: ['relu'], attr: { T: F, ksize: list([1, 3, 3, 1]), strides: list([1, 2, 2, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') } } });
  nodes.push({ name: 'avgpool', op: 'AvgPool', input: ['maxpool'], attr: { T: F, ksize: list([1, 3, 3, 1]), strides: list([1, 1, 1, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') } } });
  constant('conv2/w', [3, 3, 8, 16]);
  constant('conv2/b', [16]);
  nodes.push({ name: 'conv2', op: '_FusedConv2D', input: ['avgpool', 'conv2/w', 'conv2/b'], attr: { ...conv(2, 'SAME'), ...fused(['BiasAdd', 'Relu']) } });
  nodes.push({ name: FUSED_CUT, op: 'Identity', input: ['conv2'], attr: { T: F } });

  const weights = Buffer.concat(buffers);
  return {
    artifacts: {
      format: 'graph-model',
      generatedBy: 'mixhead test fixture',
      modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
      weightSpecs: specs,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    },
  };
}

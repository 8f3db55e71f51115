/**
 * Pure mixing for mixhead: λ sampling, pairing, feature and target mixing, CutMix on feature maps,
 * and the per-batch policy (`Mixer`). Papers: mixup (Zhang et al., ICLR 2018), manifold mixup
 * (Verma et al., ICML 2019), CutMix (Yun et al., ICCV 2019). No tensors: host typed arrays only.
 */
export { sampleLambda, type LambdaMode, type LambdaOptions } from './lambda.js';
export { pairPartners, type Pairing, type PairingOptions, type PairsPolicy } from './pairing.js';
export { mixRows, mixingMatrix, type FloatArray } from './mix.js';
export {
  blendTargets,
  oneHot,
  partnerLabels,
  sigmoidBce,
  smoothTargets,
  softmaxCrossEntropy,
  stackedCrossEntropy,
} from './labels.js';
export { applyCutmix, boxArea, correctedLambda, cutmixBox, type CutmixBox } from './cutmix.js';
export {
  alphaAt,
  Mixer,
  planMatrix,
  resolveMixupArgs,
  type AlphaSchedule,
  type AlphaScheduleSpec,
  type LambdaHistory,
  type MixMode,
  type MixPlan,
  type MixupArgs,
  type PlanOptions,
  type ResolvedMixupArgs,
} from './mixer.js';
export {
  mixupOptionsSchema,
  alphaScheduleSpecSchema,
  MIXUP_DEFAULTS,
  LAMBDA_MODES,
  PAIRINGS,
  PAIRS_POLICIES,
  ALPHA_SCHEDULE_TYPES,
} from './options.js';
export { Rng } from '../base/random.js';

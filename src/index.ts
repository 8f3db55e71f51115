/**
 * mixhead's library API. Everything the CLI does is reachable from here with the same options.
 *
 *   backbone/ → data/ → cache/ → mixup/ → train/
 */
export { selectBackend, currentBackend, describeBackend, type BackendInfo, type BackendName } from './tfjs/backend.js';
export * from './backbone/index.js';
export { ExtractorPool } from './backbone/pool.js';
export { useEngine, engineOf, extractFeatures, resolveEngine, convertBackbone, ensureOnnxModel, onnxModelPath, UnsupportedOpError, ENGINES, type EngineName, type EngineChoice } from './engine/index.js';
export { openBackbone, inspectOnnx, loadOnnxFileBackbone, OnnxFileBackbone, OnnxModelError, type OnnxInspection, type OnnxCutPoint } from './engine/index.js';
export { startExtractor, type Extractor } from './engine/extractor.js';
export { loadDataset, readClassFolders, readCsv, parseCsv, DatasetError, readIdx, parseIdx, encodeIdx, writeIdx, FASHION_MNIST_CLASSES, decodeImage, decodeToRgb, decodeBatches, normalize, hashBytes, ImageDecodeError, writeFashionSample, type DataItem, type Dataset, type RawImage } from './data/index.js';
export * from './cache/index.js';
export * from './mixup/index.js';
export { buildHead, disposeHead, HEAD_TYPES, type Head, type HeadArgs, type HeadType } from './train/heads.js';
export { trainHead, evaluateSet, predictSet, resolveTrainArgs, TrainingDivergedError, MIX_POINTS, type TrainArgs, type TrainResult, type EpochRecord, type MixPoint } from './train/trainer.js';
export type { TrainCallback, Fit } from './train/callbacks.js';
export { TRAIN_ENGINES, type TrainEngineChoice } from './train/options.js';
export type { TrainEngine, TrainEngineName } from './train/engines.js';
export { memoryFeatureSet, cacheFeatureSet, subsetFeatureSet, type FeatureSet } from './train/features.js';
export { singleLabelMetrics, multiLabelMetrics, averagePrecision, crossFitThreshold, type Metrics } from './train/metrics.js';
export { applyTemperature, fitTemperature, temperatureReport, singleLabelCalibration, multiLabelCalibration, reliabilityBins, type TemperatureReport } from './train/calibration.js';
export { judgeFamily, holmAdjust, pairedTest, pairedInterval, tTwoSidedP, type Judgement } from './train/stats.js';
export { exportModel, readMeta, loadHead, type ModelMeta } from './train/export.js';
export { exportWeb, type ExportWebArgs, type ExportWebResult } from './jobs/export-web.js';
export { resizeToSquare, toRgb, DECODE_RULES, type ResizeKernel, type Pixels } from './preprocess/index.js';
export { precompute, parseShard, type PrecomputeArgs, type PrecomputeResult } from './jobs/precompute.js';
export { runTrain, stratifiedSplit, type RunTrainArgs } from './jobs/train.js';
export { runEval } from './jobs/eval.js';
export { runPredict } from './jobs/predict.js';
export { runCompare, type CompareArgs, type GridAxis } from './jobs/compare.js';
export { parseTrainConfig, trainConfigSchema } from './cli/config.js';
export { OptionError, UsageError } from './base/errors.js';
export { trainOptionsSchema, TRAIN_DEFAULTS, OPTIMIZERS, LABEL_MODES, SCHEDULES } from './train/options.js';
export { runTrainOptionsSchema, type RunTrainArgs as RunTrainOptions } from './jobs/train-options.js';
export { precomputeOptionsSchema, PRECOMPUTE_DEFAULTS } from './jobs/precompute-options.js';
export { compareOptionsSchema, COMPARE_DEFAULTS } from './jobs/compare-options.js';
export { evalOptionsSchema, predictOptionsSchema } from './jobs/model-options.js';
export { writeFileAtomic } from './base/fs.js';

/**
 * What the reports show: the records `runTrain` and `runCompare` write as report.json and render
 * as report.html. Their own module, so that the report renderer depends on no job module and the
 * jobs (src/run.ts, src/jobs/compare.ts) import the renderer without a cycle.
 */
import type { EpochRecord } from '../train/trainer.js';
import type { CrossFitThreshold, Metrics, ThresholdCalibration } from '../train/metrics.js';
import type { LrFindResult } from '../train/lrfind.js';
import type { CompareRow, FloorRow } from './format.js';
import type { TemperatureReport } from '../train/calibration.js';

export interface TrainReport {
  kind: 'train';
  backend: string;
  /** The engine that ran the training steps, e.g. `onnx (onnxruntime 1.30.0 (cpu, 2 threads))` (src/train/engines.ts). */
  trainEngine?: string;
  cache: string;
  valid: string;
  trainSize: number;
  validSize: number;
  classes: string[];
  /** Every option the run used, defaults and 'auto' values resolved. */
  options: Record<string, unknown>;
  history: EpochRecord[];
  bestEpoch: number;
  stoppedEarly: boolean;
  /** The best epoch is the last: the head was still improving. */
  stillImproving: boolean;
  lambdaHistogram: number[];
  metrics: Metrics;
  /** The lr finder's curve when the rate was 'auto'. */
  lrFind?: Pick<LrFindResult, 'lrs' | 'losses' | 'smoothed' | 'suggestion' | 'minimumLr' | 'steepestLr' | 'rule' | 'diverged' | 'fallback'>;
  /** Multi-label: the calibrated decision threshold (absent: 0.5, no validation set to calibrate on). */
  threshold?: ThresholdCalibration;
  /** Multi-label: micro-F1 with the threshold cross-fitted on validation (the honest figure). */
  thresholdCrossFit?: CrossFitThreshold;
  /** Temperature scaling fitted on validation, with cross-fitted before/after calibration. */
  temperature?: TemperatureReport;
  /** Where the evaluated samples came from (ids and source files), for top losses' thumbnails. */
  samples?: { index: number; id: string; source: string }[];
  seconds: number;
}

export interface CompareReport {
  kind: 'compare';
  /** Seeds per setting. */
  seeds: number[];
  rows: CompareRow[];
  /** kNN and logistic regression on pooled features (absent in older reports). */
  floors?: FloorRow[];
  runs: { name: string; seed: number; report: TrainReport }[];
  /** Options shared by every run, resolved. */
  options: Record<string, unknown>;
}

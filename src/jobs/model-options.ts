/**
 * The options of the commands that use a trained model folder, `eval` and `predict`
 * (docs/architecture.md, "Options").
 */
import { z } from 'zod';
import { field } from '../base/options.js';

export const evalOptionsSchema = z
  .object({
    /** Folder written by `mixhead train`. */
    model: field.text(),
    /** Feature cache to evaluate on. */
    cache: field.text(),
    /** Test-time augmentation: average the probabilities over every view the cache holds (precompute --views N). */
    tta: field.bool().optional(),
  })
  .strict();

export const predictOptionsSchema = z
  .object({
    model: field.text(),
    images: z.array(field.text()).min(1, 'give at least one image'),
    /** Labels to show per image; default 5. */
    top: field.positiveInt().optional(),
    batchSize: field.positiveInt().optional(),
    /**
     * Test-time augmentation: average the probabilities over the views the model's training cache
     * had (meta.json `views`), computed from each image as precompute computes them; a model trained
     * on one view averages the image and its mirror.
     */
    tta: field.bool().optional(),
    /** Engine of the backbone (docs/engine.md); default onnx when onnxruntime-node loads. */
    engine: field.oneOf(['auto', 'onnx', 'tfjs'] as const).optional(),
    /** Notices, and one line naming the engine that ran. */
    log: field.fn<(line: string) => void>().optional(),
  })
  .strict();

export const PREDICT_DEFAULTS = { top: 5, batchSize: 16, tta: false };
export const EVAL_DEFAULTS = { tta: false };

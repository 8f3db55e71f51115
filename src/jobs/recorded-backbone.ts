/**
 * The backbone a cache header or a model's meta.json names, loaded again and checked against the
 * weights hash recorded there: what `train` (the input mix point, the combined model) and `predict`
 * need to run images the way the features were made.
 */
import { reloadArgs } from '../backbone/index.js';
import { openBackbone } from '../engine/index.js';
import type { Backbone, PreprocessSpec } from '../backbone/types.js';
import type { CacheBackboneInfo } from '../cache/header.js';

/**
 * Loads the backbone `record` names with `preprocess`; throws `mismatch(loaded)` (after disposing
 * it) when its weights are not the recorded ones.
 */
export async function loadRecordedBackbone(record: CacheBackboneInfo, preprocess: PreprocessSpec, mismatch: (loaded: Backbone) => string): Promise<Backbone> {
  const backbone = await openBackbone(reloadArgs(record, preprocess));
  if (backbone.weightsHash !== record.weightsHash) {
    const message = mismatch(backbone);
    backbone.dispose();
    throw new Error(message);
  }
  return backbone;
}

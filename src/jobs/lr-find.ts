/**
 * `mixhead lr-find`: the lr finder on a cache, its suggestion and, with `plot`, the curve as SVG.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CacheReader } from '../cache/reader.js';
import { cacheFeatureSet } from '../train/features.js';
import { findLearningRate, type LrFindArgs, type LrFindResult } from '../train/lrfind.js';
import { lrFindChart } from '../report/index.js';
import { parseOptions } from '../base/options.js';
import { writeFileAtomic } from '../base/fs.js';
import { lrFindOptionsSchema } from './lr-find-options.js';

export interface RunLrFindArgs extends LrFindArgs {
  /** Training cache directory. */
  cache: string;
  /** Where to write the curve as SVG; none when unset. */
  plot?: string;
}

/** The lr finder on a cache: the suggested rate and, with `plot`, the curve as an SVG file. */
export async function runLrFind(args: RunLrFindArgs): Promise<{ result: LrFindResult; plot?: string }> {
  parseOptions(lrFindOptionsSchema, args);
  const reader = CacheReader.open(args.cache);
  try {
    if (reader.size === 0) throw new Error(`${args.cache}: the cache holds no entries; run mixhead precompute first`);
    const { cache: _c, plot, ...finder } = args;
    const result = await findLearningRate(cacheFeatureSet(reader), finder);
    if (!plot) return { result };
    await fs.mkdir(path.dirname(path.resolve(plot)), { recursive: true });
    await writeFileAtomic(plot, lrFindChart(result));
    return { result, plot: path.resolve(plot) };
  } finally {
    await reader.close();
  }
}


/**
 * Child process of the memory workload (bench/memory.ts): trains a head on a cache and prints, as
 * its last stdout line, peak memory (VmHWM, sampled RSS / anonymous / file-backed) and timings.
 *   node --import tsx bench/child/memory.ts --cache DIR [--head conv] [--epochs 1]
 */
import { parseArgs } from 'node:util';
import { selectBackend } from '../../src/tfjs/backend.js';
import { CacheReader } from '../../src/cache/index.js';
import { cacheFeatureSet } from '../../src/train/features.js';
import { now, procStatus, timedTrain } from '../lib.js';

const { values } = parseArgs({ options: { cache: { type: 'string' }, head: { type: 'string', default: 'conv' }, epochs: { type: 'string', default: '1' } } });
const info = await selectBackend();
const peak = { rss: 0, anon: 0, file: 0 };
const sample = () => {
  const s = procStatus();
  peak.rss = Math.max(peak.rss, s.VmRSS ?? 0);
  peak.anon = Math.max(peak.anon, s.RssAnon ?? 0);
  peak.file = Math.max(peak.file, s.RssFile ?? 0);
};
const t0 = now();
const reader = CacheReader.open(values.cache!);
const set = cacheFeatureSet(reader);
const setSeconds = now() - t0;
sample();
let batches = 0;
const run = await timedTrain(set, values.head as 'linear' | 'conv', Number(values.epochs), {
  onBatch: () => {
    if (++batches % 8 === 0) sample();
  },
});
sample();
await reader.close();
const s = procStatus();
console.log(
  JSON.stringify({
    backend: info.name,
    entries: set.size,
    cacheFeatureSetSeconds: setSeconds,
    run: { stepSeconds: run.stepSeconds, evalSeconds: run.evalSeconds, wallSeconds: run.wallSeconds, samplesPerSecond: run.records.map((r) => r.samplesPerSecond) },
    vmHWM: s.VmHWM,
    maxRSS: process.resourceUsage().maxRSS * 1024,
    peakSampled: peak,
  }),
);

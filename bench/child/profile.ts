/**
 * Child process of the profile workload (bench/profile.ts): trains a head on random maps with the
 * V8 inspector's Profiler running around trainHead only (what `node --cpu-prof` records, without the
 * data generation), writes the .cpuprofile into --dir and prints the timings on its last line.
 *   node --import tsx bench/child/profile.ts --head linear|conv --n N --epochs E --dir DIR
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { selectBackend } from '../../src/tfjs/backend.js';
import { memoryFeatureSet } from '../../src/train/features.js';
import { C, H, W, reluMaps, seededLabels, syntheticClasses, timedTrain } from '../lib.js';

const { values } = parseArgs({ options: { head: { type: 'string', default: 'linear' }, n: { type: 'string', default: '1024' }, epochs: { type: 'string', default: '2' }, dir: { type: 'string', default: '.' } } });
const head = values.head as 'linear' | 'conv';
const n = Number(values.n);
await selectBackend();
const set = memoryFeatureSet({ maps: reluMaps(n, 1), featureShape: [H, W, C], labels: seededLabels(n, 2), classes: syntheticClasses() });
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 500 });
await session.post('Profiler.start');
const r = await timedTrain(set, head, Number(values.epochs));
const { profile } = await session.post('Profiler.stop');
writeFileSync(path.join(values.dir!, `train-${head}.cpuprofile`), JSON.stringify(profile));
session.disconnect();
console.log(JSON.stringify({ stepSeconds: r.stepSeconds, evalSeconds: r.evalSeconds }));

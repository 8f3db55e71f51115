/**
 * Copies a class-folder dataset with a fraction of its labels replaced at random: each chosen image
 * (a seeded sample of `--fraction` of all images) moves to a uniformly drawn *other* class folder,
 * so exactly that fraction is mislabelled. For issue 19's must-show run: does mixup help more when
 * labels are noisy (Zhang et al. 2018, §3.4)?
 *
 *   npx tsx scripts/noisy-labels.ts --data DIR --out DIR [--fraction 0.4] [--seed 0]
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { scriptArgs } from './script-args.js';
import { Rng } from '../src/base/random.js';

const usage = 'usage: npx tsx scripts/noisy-labels.ts --data DIR --out DIR [--fraction 0.4] [--seed 0]';
const v = scriptArgs({ data: { type: 'string' }, out: { type: 'string' }, fraction: { type: 'string', default: '0.4' }, seed: { type: 'string', default: '0' } }, usage);
const fraction = Number(v.fraction);
if (!v.data || !v.out || !(fraction >= 0 && fraction <= 1)) {
  console.error(usage);
  process.exit(2);
}
const classes = (await fs.readdir(v.data, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
const files: { cls: number; name: string }[] = [];
for (const [c, name] of classes.entries()) for (const f of (await fs.readdir(path.join(v.data, name))).sort()) files.push({ cls: c, name: f });
const rng = new Rng(Number(v.seed)).fork('noisy-labels');
const flip = new Set(Array.from(rng.permutation(files.length).subarray(0, Math.round(fraction * files.length))));
for (const c of classes) await fs.mkdir(path.join(v.out, c), { recursive: true });
let moved = 0;
for (const [i, f] of files.entries()) {
  let to = f.cls;
  if (flip.has(i)) {
    to = rng.int(classes.length - 1);
    if (to >= f.cls) to++;
    moved++;
  }
  await fs.copyFile(path.join(v.data, classes[f.cls], f.name), path.join(v.out, classes[to], f.name));
}
console.log(`copied ${files.length} images into ${v.out}; ${moved} (${((100 * moved) / files.length).toFixed(1)}%) moved to another class`);

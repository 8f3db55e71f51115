/**
 * Writes a Fashion-MNIST sample (from the `fashion-mnist` devDependency, offline) as PNG class
 * folders `<out>/<class>/<k>_<index>.png`, 28×28 grey; `--idx` also writes IDX files of the same
 * images. Train takes each class's first images, test its last: the two never overlap.
 * `--multi-label N` instead writes N images of one or two garments each and a labels.csv.
 *
 *   npx tsx scripts/fashion-sample.ts --out DIR --per-class N --split train|test [--idx]
 *   npx tsx scripts/fashion-sample.ts --out DIR --multi-label 1000 --split train|test
 */
import { scriptArgs } from './script-args.js';
import { writeFashionSample, writeFashionMultiLabel } from '../src/data/fashion.js';

const usage = 'usage: npx tsx scripts/fashion-sample.ts --out DIR [--per-class N (default 100)] [--split train|test (default train)] [--idx] [--multi-label N]';
const values = scriptArgs({ out: { type: 'string' }, 'per-class': { type: 'string', default: '100' }, split: { type: 'string', default: 'train' }, idx: { type: 'boolean', default: false }, 'multi-label': { type: 'string' } }, usage);
const perClass = Number(values['per-class']);
if (!values.out || !['train', 'test'].includes(values.split!) || !(Number.isInteger(perClass) && perClass > 0)) {
  console.error(usage);
  process.exit(2);
}
try {
  if (values['multi-label']) {
    const r = await writeFashionMultiLabel({ out: values.out, count: Number(values['multi-label']), split: values.split as 'train' | 'test' });
    console.log(`wrote ${values['multi-label']} multi-label images and ${r.csv}`);
    process.exit(0);
  }
  const r = await writeFashionSample({ out: values.out, perClass, split: values.split as 'train' | 'test', idx: values.idx });
  console.log(`wrote ${r.files.length} PNGs in ${r.classes.length} class folders under ${values.out}${values.idx ? ', with images-idx3-ubyte and labels-idx1-ubyte' : ''}`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}

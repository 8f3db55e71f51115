/** Writes a Fashion-MNIST sample as PNG class folders: tsx scripts/fashion-sample.ts --out DIR --per-class N --split train|test [--idx] */
import { parseArgs } from 'node:util';
import { writeFashionSample } from '../src/data/fashion.js';

const { values } = parseArgs({
  options: { out: { type: 'string' }, 'per-class': { type: 'string', default: '100' }, split: { type: 'string', default: 'train' }, idx: { type: 'boolean', default: false } },
});
if (!values.out || !['train', 'test'].includes(values.split!)) {
  console.error('usage: tsx scripts/fashion-sample.ts --out DIR [--per-class N] [--split train|test] [--idx]');
  process.exit(2);
}
const r = await writeFashionSample({ out: values.out, perClass: Number(values['per-class']), split: values.split as 'train' | 'test', idx: values.idx });
console.log(`wrote ${r.files.length} PNGs in ${r.classes.length} class folders under ${values.out}`);

/**
 * The layout's rule (docs/architecture.md, "Module map"): imports run downward only, and no files
 * import each other in a circle, type-only imports included. Read from the source text of src/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');

/**
 * Layers from the top down. A file may import its own folder and any folder of a lower layer;
 * within the concept layer, only concepts listed after it (the data flow read backwards).
 */
export const LAYERS: string[][] = [
  ['index.ts'],
  ['cli'],
  ['jobs'],
  ['web'],
  ['report', 'train', 'cache', 'data', 'engine', 'backbone', 'mixup'],
  ['preprocess', 'tfjs'],
  ['base'],
];

/** Folders (or top-level files) of src/ that `from` may import. */
export function allowedTargets(from: string): Set<string> {
  const layer = LAYERS.findIndex((l) => l.includes(from));
  if (layer < 0) return new Set();
  const allowed = new Set<string>([from]);
  const own = LAYERS[layer];
  // Inside the concept layer the order is the data flow read backwards: report → train → cache → data → engine → backbone → mixup.
  if (own.length > 1 && from !== 'preprocess' && from !== 'tfjs') own.slice(own.indexOf(from)).forEach((f) => allowed.add(f));
  for (const lower of LAYERS.slice(layer + 1)) lower.forEach((f) => allowed.add(f));
  // The browser page runs without Node: it may import the shared preprocessing only.
  if (from === 'web') return new Set(['web', 'preprocess']);
  return allowed;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(ts|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Relative imports of a file (static, dynamic, re-exports, type-only), as paths relative to src/. */
export function importsOf(file: string, text: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;
  const out: string[] = [];
  for (const m of text.matchAll(re)) {
    const target = path.relative(SRC, path.resolve(path.dirname(file), m[2])).replace(/\.js$/, '.ts');
    out.push(target.split(path.sep).join('/'));
  }
  return out;
}

const topOf = (rel: string) => rel.split('/')[0];

/** Every import of src/ that breaks the layer rule, as `from -> to`. */
export function violations(files: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, targets] of files) {
    const allowed = allowedTargets(topOf(from));
    for (const t of targets) if (!allowed.has(topOf(t))) bad.push(`${from} -> ${t}`);
  }
  return bad;
}

/** Files that import each other in a loop (Tarjan's strongly connected components of size > 1). */
export function circles(files: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of files.get(v) ?? []) {
      if (!files.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) found.push(comp.sort());
    }
  };
  for (const v of files.keys()) if (!idx.has(v)) visit(v);
  return found;
}

function readSrc(): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const f of walk(SRC)) files.set(path.relative(SRC, f).split(path.sep).join('/'), importsOf(f, readFileSync(f, 'utf8')));
  return files;
}

describe('the layout of src/', () => {
  it('every top-level folder of src/ has a layer', () => {
    const tops = new Set([...readSrc().keys()].map(topOf));
    const placed = new Set(LAYERS.flat());
    expect([...tops].filter((t) => !placed.has(t))).toEqual([]);
  });

  it('imports run downward only', () => {
    expect(violations(readSrc())).toEqual([]);
  });

  it('no files import each other in a circle, type-only imports included', () => {
    expect(circles(readSrc())).toEqual([]);
  });

  it('the checks catch an upward import and a circle', () => {
    const files = new Map<string, string[]>([
      ['train/trainer.ts', ['jobs/train.ts', 'train/heads.ts']],
      ['train/heads.ts', ['train/trainer.ts']],
      ['base/random.ts', ['cache/store.ts']],
      ['web/browser.ts', ['train/export.ts']],
    ]);
    expect(violations(files)).toEqual(['train/trainer.ts -> jobs/train.ts', 'base/random.ts -> cache/store.ts', 'web/browser.ts -> train/export.ts']);
    expect(circles(files)).toEqual([['train/heads.ts', 'train/trainer.ts']]);
  });
});

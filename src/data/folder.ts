/**
 * A dataset as a folder with one subfolder per class (`root/<class>/.../<image>`, any depth).
 *
 * Outcomes for odd entries (each skipped one is reported with its reason, never dropped silently,
 * except hidden ones):
 * - hidden files and folders (`.DS_Store`, `.git`, any name starting with a dot): ignored, not in
 *   `skipped`, only counted in `Dataset.hidden` (macOS and git litter every folder with them);
 * - files directly in the root: skipped, "not inside a class folder";
 * - files whose extension sharp cannot decode: skipped, "not an image file (.txt)"; known image
 *   formats sharp lacks (BMP, HEIC, SVG, …) are skipped with a reason saying so;
 * - a class folder with no usable images: skipped, "empty class folder", and not in the vocabulary
 *   (a class with no examples cannot be trained and would only skew the softmax);
 * - symlinks are followed (to files and to folders); a link back to a folder on the current path is
 *   skipped as a "symlink loop", a link to another class folder or to a folder already read is
 *   skipped (its images would otherwise get two labels, or be read twice); a dangling link is
 *   skipped, "file not found";
 * - an unreadable folder or file: skipped with the reason ("permission denied").
 * Class names are the folder names as they are (dots and spaces allowed); ids are POSIX paths
 * relative to the root; everything is sorted (by UTF-16 code units) so the order never depends on
 * the file system.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { DataItem, Dataset, SkippedItem } from './types.js';
import { readErrorReason } from './image.js';
import { DatasetError } from './errors.js';

/** Extensions of the formats the prebuilt sharp decodes (its `sharp.format[*].input`). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** Image formats users will have that sharp cannot (or should not) decode, with what to do. */
const UNSUPPORTED_IMAGES: Record<string, string> = {
  '.bmp': 'BMP is not supported (sharp has no BMP decoder): convert it to PNG',
  '.heic': 'HEIC is not supported by the prebuilt sharp (AVIF is): convert it to JPEG',
  '.heif': 'HEIF is not supported by the prebuilt sharp (AVIF is): convert it to JPEG',
  '.svg': 'vector image (SVG) not used: rasterise it to PNG',
  '.ico': 'ICO is not supported: convert it to PNG',
  '.psd': 'PSD is not supported: export it as PNG',
};

const isHidden = (name: string) => name.startsWith('.');
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Walk {
  root: string;
  files: string[];
  skipped: SkippedItem[];
  hidden: number;
  /** Real paths of the class folders → class name. */
  classRoots: Map<string, string>;
  /** Real paths of folders read so far → the path they were read under. */
  visited: Map<string, string>;
}

/** Collects the image files under `dir`; returns false when `dir` itself could not be read. */
async function walk(dir: string, ancestors: Set<string>, w: Walk, isClassRoot = false): Promise<boolean> {
  let real: string;
  try {
    real = await fs.realpath(dir);
  } catch (err) {
    w.skipped.push({ source: dir, reason: readErrorReason(err) });
    return false;
  }
  if (ancestors.has(real)) {
    w.skipped.push({ source: dir, reason: 'symlink loop (links to a folder that contains it)' });
    return false;
  }
  const otherClass = w.classRoots.get(real);
  if (otherClass !== undefined && !isClassRoot) {
    w.skipped.push({ source: dir, reason: `links to the class folder "${otherClass}": its images keep their own class` });
    return false;
  }
  const before = w.visited.get(real);
  if (before !== undefined) {
    w.skipped.push({ source: dir, reason: `folder already read as ${path.relative(w.root, before).split(path.sep).join('/')}` });
    return false;
  }
  w.visited.set(real, dir);
  let entries: string[];
  try {
    entries = (await fs.readdir(dir)).sort(byCodeUnit);
  } catch (err) {
    w.skipped.push({ source: dir, reason: readErrorReason(err) });
    return false;
  }
  const inside = new Set(ancestors).add(real);
  for (const { name, full, st } of await visibleEntries(dir, entries, w)) {
    if (st.isDirectory()) {
      await walk(full, inside, w);
    } else if (st.isFile()) {
      const ext = path.extname(name).toLowerCase();
      if (IMAGE_EXTENSIONS.has(ext)) w.files.push(full);
      else w.skipped.push({ source: full, reason: UNSUPPORTED_IMAGES[ext] ?? `not an image file (${ext || 'no extension'})` });
    } else {
      w.skipped.push({ source: full, reason: 'not a regular file' });
    }
  }
  return true;
}

/**
 * The entries of `dir` that are not hidden, with their stats (symlinks followed). Hidden ones are
 * counted; ones that cannot be stat'ed are skipped with the reason.
 */
async function visibleEntries(dir: string, names: string[], w: Walk): Promise<{ name: string; full: string; st: Stats }[]> {
  const out: { name: string; full: string; st: Stats }[] = [];
  for (const name of names) {
    if (isHidden(name)) {
      w.hidden++;
      continue;
    }
    const full = path.join(dir, name);
    try {
      out.push({ name, full, st: await fs.stat(full) });
    } catch (err) {
      w.skipped.push({ source: full, reason: readErrorReason(err) });
    }
  }
  return out;
}

export async function readClassFolders(root: string): Promise<Dataset> {
  const abs = path.resolve(root);
  let entries: string[];
  try {
    entries = (await fs.readdir(abs)).sort(byCodeUnit);
  } catch (err) {
    throw new DatasetError(`${root}: cannot read the dataset folder (${readErrorReason(err)})`);
  }
  const w: Walk = { root: abs, files: [], skipped: [], hidden: 0, classRoots: new Map(), visited: new Map() };
  const rootReal = await fs.realpath(abs);
  const classDirs: string[] = [];
  for (const { name, full, st } of await visibleEntries(abs, entries, w)) {
    if (!st.isDirectory()) {
      w.skipped.push({ source: full, reason: 'not inside a class folder' });
      continue;
    }
    const real = await fs.realpath(full).catch(() => full);
    if (w.classRoots.has(real)) {
      w.skipped.push({ source: full, reason: `the same folder as class "${w.classRoots.get(real)}"` });
      continue;
    }
    w.classRoots.set(real, name);
    classDirs.push(name);
  }
  const items: DataItem[] = [];
  const classes: string[] = [];
  for (const name of classDirs) {
    const full = path.join(abs, name);
    w.files = [];
    const readable = await walk(full, new Set([rootReal]), w, true);
    if (!readable) continue;
    if (!w.files.length) {
      w.skipped.push({ source: full, reason: 'empty class folder (no usable images): left out of the classes' });
      continue;
    }
    classes.push(name);
    const ids = w.files.map((f) => ({ f, id: path.relative(abs, f).split(path.sep).join('/') })).sort((a, b) => byCodeUnit(a.id, b.id));
    for (const { f, id } of ids) items.push({ id, source: f, labels: [name] });
  }
  if (!items.length) {
    throw new DatasetError(`${root}: no images found; expected one subfolder per class with images inside (${w.skipped.length} entries skipped${w.skipped.length ? `: ${w.skipped.slice(0, 3).map((s) => `${path.relative(abs, s.source) || '.'}: ${s.reason}`).join('; ')}` : ''})`);
  }
  return { root: abs, items, classes: classes.sort(byCodeUnit), multiLabel: false, skipped: w.skipped, hidden: w.hidden };
}

/**
 * A dataset as a folder with one subfolder per class (`root/<class>/.../<image>`, any depth).
 *
 * Outcomes for odd entries (each skipped one is reported with its reason, never dropped silently):
 * - hidden files and folders (`.DS_Store`, `.git`, any dotfile): ignored, not reported;
 * - files directly in the root: skipped, "not inside a class folder";
 * - files whose extension is not an image sharp reads: skipped, "not an image file (.txt)";
 * - a class folder with no images: skipped, "empty class folder", and not in the vocabulary;
 * - symlinks to files are followed; a symlink loop or a directory seen twice is skipped;
 * - an unreadable folder: skipped with the reason.
 * Class names are the folder names as they are (dots and spaces allowed); ids are POSIX paths
 * relative to the root; everything is sorted so the order never depends on the file system.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DataItem, Dataset, SkippedItem } from './types.js';
import { readErrorReason } from './image.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

async function walk(dir: string, root: string, seen: Set<string>, files: string[], skipped: SkippedItem[]): Promise<void> {
  let real: string;
  try {
    real = await fs.realpath(dir);
  } catch (err) {
    skipped.push({ source: dir, reason: readErrorReason(err) });
    return;
  }
  if (seen.has(real)) {
    skipped.push({ source: dir, reason: 'symlink loop (folder already visited)' });
    return;
  }
  seen.add(real);
  let entries: string[];
  try {
    entries = (await fs.readdir(dir)).sort();
  } catch (err) {
    skipped.push({ source: dir, reason: readErrorReason(err) });
    return;
  }
  for (const name of entries) {
    if (isHidden(name)) continue;
    const full = path.join(dir, name);
    let st;
    try {
      st = await fs.stat(full);
    } catch (err) {
      skipped.push({ source: full, reason: readErrorReason(err) });
      continue;
    }
    if (st.isDirectory()) await walk(full, root, seen, files, skipped);
    else if (st.isFile()) {
      const ext = path.extname(name).toLowerCase();
      if (IMAGE_EXTENSIONS.has(ext)) files.push(full);
      else skipped.push({ source: full, reason: `not an image file (${ext || 'no extension'})` });
    } else skipped.push({ source: full, reason: 'not a regular file' });
  }
}

export async function readClassFolders(root: string): Promise<Dataset> {
  const abs = path.resolve(root);
  let entries: string[];
  try {
    entries = (await fs.readdir(abs)).sort();
  } catch (err) {
    throw new Error(`${root}: cannot read the dataset folder (${readErrorReason(err)})`);
  }
  const items: DataItem[] = [];
  const skipped: SkippedItem[] = [];
  const classes: string[] = [];
  const seen = new Set<string>([await fs.realpath(abs)]);
  for (const name of entries) {
    if (isHidden(name)) continue;
    const full = path.join(abs, name);
    let st;
    try {
      st = await fs.stat(full);
    } catch (err) {
      skipped.push({ source: full, reason: readErrorReason(err) });
      continue;
    }
    if (!st.isDirectory()) {
      skipped.push({ source: full, reason: 'not inside a class folder' });
      continue;
    }
    const files: string[] = [];
    await walk(full, abs, seen, files, skipped);
    if (!files.length) {
      skipped.push({ source: full, reason: 'empty class folder (no images): left out of the classes' });
      continue;
    }
    classes.push(name);
    for (const f of files.sort()) items.push({ id: path.relative(abs, f).split(path.sep).join('/'), source: f, labels: [name] });
  }
  if (!items.length) {
    throw new Error(`${root}: no images found; expected one subfolder per class with images inside (${skipped.length} entries skipped)`);
  }
  return { root: abs, items, classes: classes.sort(), multiLabel: false, skipped };
}

/**
 * A hostile "image zoo": a class-folder dataset with every kind of odd file users point mixhead at,
 * beside valid images. Generated (never committed as binaries) by `makeZoo(dir)`, which also returns
 * the documented outcome of every entry, so a test can assert each one and docs/robustness.md can
 * list them.
 *
 * Layout (classes: `cat`, `dog`, `v1.2`, `wild cät`; `empty-class` has nothing usable):
 *   cat/      valid baselines, every decoding oddity, names with spaces/unicode/dashes, links, hidden files
 *   dog/      a valid image, the same bytes as cat/dup.png (duplicate under two classes)
 *   v1.2/     a class folder with a dot in its name
 *   wild cät/ a class folder with a space and unicode in its name
 *   empty-class/  only a hidden file: an empty class
 *   stray.png a file directly in the root
 */
import sharp from 'sharp';
import { blackPng1Bit } from '../fixtures/png.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export type ZooOutcome = 'cached' | 'skipped' | 'hidden';

export interface ZooEntry {
  /** POSIX path relative to the zoo root (a folder for folder-level outcomes). */
  path: string;
  /** What it is, in words (the row of the outcome table). */
  what: string;
  outcome: ZooOutcome;
  /** The class it is cached under (outcome `cached`). */
  label?: string;
  /** The documented skip reason (outcome `skipped`). */
  reason?: RegExp;
  /**
   * Only true when the reader cannot open the file: chmod 000 stops every user but root, so run
   * unprivileged (or expect `cached` as root, who reads anything).
   */
  needsUnprivileged?: boolean;
}

export interface Zoo {
  root: string;
  entries: ZooEntry[];
  /** Hidden entries the folder reader passes over (counted, not listed as skipped). */
  hidden: number;
}

/** Deterministic pseudo-random bytes (LCG). */
function noise(n: number, seed: number): Buffer {
  let s = seed >>> 0;
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

/** A smooth w×h RGB pattern that differs per `seed` (so valid images are not all alike). */
function pattern(w: number, h: number, seed: number): Buffer {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data.set([(x * 255) / Math.max(1, w - 1), (y * 255) / Math.max(1, h - 1), (seed * 67) % 256], (y * w + x) * 3);
    }
  }
  return data;
}

const rgb = (w: number, h: number, seed: number) => sharp(pattern(w, h, seed), { raw: { width: w, height: h, channels: 3 } });

/** Writes the zoo into `dir` (created; must be empty or missing) and returns what should happen to each entry. */
export async function makeZoo(dir: string): Promise<Zoo> {
  const root = path.resolve(dir);
  const entries: ZooEntry[] = [];
  let hidden = 0;
  const put = async (rel: string, data: Buffer | string, e: Omit<ZooEntry, 'path'>) => {
    const file = path.join(root, ...rel.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
    if (e.outcome === 'hidden') hidden++;
    entries.push({ path: rel, ...e });
  };
  const cached = (label: string, what: string) => ({ outcome: 'cached' as const, label, what });
  const skipped = (reason: RegExp, what: string) => ({ outcome: 'skipped' as const, reason, what });
  await fs.mkdir(root, { recursive: true });

  // Baselines.
  await put('cat/ok-1.jpg', await rgb(64, 48, 1).jpeg().toBuffer(), cached('cat', 'plain RGB JPEG (baseline)'));
  await put('cat/ok-2.png', await rgb(40, 40, 2).png().toBuffer(), cached('cat', 'plain RGB PNG (baseline)'));

  // Files that are not images, or broken ones.
  await put('cat/empty.jpg', Buffer.alloc(0), skipped(/^empty file$/, 'zero-byte file named .jpg'));
  const jpg = await rgb(128, 96, 3).jpeg({ quality: 90 }).toBuffer();
  await put('cat/truncated.jpg', jpg.subarray(0, jpg.length >> 1), skipped(/^truncated or corrupt JPEG/, 'JPEG cut in half'));
  await put('cat/random.jpg', noise(4096, 7), skipped(/^not an image \(unrecognised format\)$/, 'random bytes named .jpg'));
  await put('cat/text.png', 'this is a text file, not a PNG\n', skipped(/^not an image \(unrecognised format\)$/, 'text file named .png'));
  await put('cat/notes.txt', 'labels are folder names\n', skipped(/^not an image file \(\.txt\)$/, 'text file with a .txt extension'));

  // Valid images in every odd encoding.
  await put('cat/cmyk.jpg', await rgb(48, 32, 4).toColourspace('cmyk').jpeg().toBuffer(), cached('cat', 'CMYK JPEG'));
  const px16 = new Uint16Array(24 * 16 * 3).map((_, i) => (i * 997) % 65536);
  await put('cat/deep-16bit.png', await sharp(px16, { raw: { width: 24, height: 16, channels: 3 } }).toColourspace('rgb16').png().toBuffer(), cached('cat', '16-bit RGB PNG'));
  const grey = Buffer.from(Array.from({ length: 32 * 32 }, (_, i) => i % 256));
  await put('cat/grey.png', await sharp(grey, { raw: { width: 32, height: 32, channels: 1 } }).toColourspace('b-w').png().toBuffer(), cached('cat', 'greyscale PNG'));
  const rgba = Buffer.alloc(20 * 20 * 4);
  for (let i = 0; i < 400; i++) rgba.set([200, (i * 3) % 256, 40, i % 20 < 10 ? 255 : 0], i * 4);
  await put('cat/palette-alpha.png', await sharp(rgba, { raw: { width: 20, height: 20, channels: 4 } }).png({ palette: true, colours: 16, dither: 0 }).toBuffer(), cached('cat', 'palette PNG with transparency'));
  await put('cat/rgba.png', await sharp(rgba, { raw: { width: 20, height: 20, channels: 4 } }).png().toBuffer(), cached('cat', 'RGBA PNG (alpha flattened onto black)'));
  const frames = Buffer.concat([Buffer.alloc(16 * 16 * 3, 255), Buffer.alloc(16 * 16 * 3, 0)]);
  const anim = () => sharp(frames, { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } });
  await put('cat/animated.gif', await anim().gif({ loop: 0 }).toBuffer(), cached('cat', 'animated GIF, 2 frames (first frame used)'));
  await put('cat/animated.webp', await anim().webp({ loop: 0, lossless: true }).toBuffer(), cached('cat', 'animated WebP, 2 frames (first frame used)'));
  await put('cat/one-pixel.png', await rgb(1, 1, 5).png().toBuffer(), cached('cat', '1×1 image'));
  await put('cat/banner-32000x60.png', await sharp({ create: { width: 32000, height: 60, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer(), cached('cat', '32,000×60 px banner (1.9 MP: under the limit)'));
  await put(
    'cat/bomb-40000x3000.png',
    blackPng1Bit(40000, 3000),
    skipped(/^image too large: 40000×3000 px exceeds the 100 MP limit \(decompression-bomb guard/, '40,000×3,000 px PNG (120 MP in 15 KB)'),
  );
  await put('cat/exif-rotated.jpg', await rgb(48, 32, 6).jpeg().withMetadata({ orientation: 6 }).toBuffer(), cached('cat', 'JPEG with EXIF orientation 6 (rotated upright)'));

  // Names.
  await put('cat/with space.jpg', await rgb(30, 30, 7).jpeg().toBuffer(), cached('cat', 'name with spaces'));
  await put('cat/ünïcödé 猫.png', await rgb(30, 30, 8).png().toBuffer(), cached('cat', 'unicode name'));
  await put('cat/-leading-dash.jpg', await rgb(30, 30, 9).jpeg().toBuffer(), cached('cat', 'name starting with a dash'));
  await put('cat/--two-dashes.png', await rgb(30, 30, 10).png().toBuffer(), cached('cat', 'name starting with two dashes'));

  // Unreadable file: only stops a non-root reader.
  await put('cat/locked.jpg', await rgb(30, 30, 11).jpeg().toBuffer(), { ...skipped(/^permission denied$/, 'file without read permission (chmod 000)'), needsUnprivileged: true });
  await fs.chmod(path.join(root, 'cat', 'locked.jpg'), 0o000);

  // Links.
  await fs.symlink('..', path.join(root, 'cat', 'loop'));
  entries.push({ path: 'cat/loop', what: 'symlink to its own parent folder (a loop)', outcome: 'skipped', reason: /^symlink loop/ });
  await fs.symlink('self.jpg', path.join(root, 'cat', 'self.jpg'));
  entries.push({ path: 'cat/self.jpg', what: 'symlink to itself (ELOOP)', outcome: 'skipped', reason: /^symlink loop$/ });
  await fs.symlink('gone.png', path.join(root, 'cat', 'dangling.png'));
  entries.push({ path: 'cat/dangling.png', what: 'dangling symlink', outcome: 'skipped', reason: /^file not found$/ });

  // Hidden files.
  await put('cat/.DS_Store', noise(64, 3), { outcome: 'hidden', what: '.DS_Store in a class folder' });
  await put('cat/._ok-1.jpg', noise(64, 4), { outcome: 'hidden', what: 'AppleDouble file (._name.jpg)' });
  await put('.DS_Store', noise(64, 5), { outcome: 'hidden', what: '.DS_Store in the root' });

  // Duplicates under two classes: both kept, each with its own folder's label.
  const dup = await rgb(36, 36, 12).png().toBuffer();
  await put('cat/dup.png', dup, cached('cat', 'the same bytes as dog/dup.png'));
  await put('dog/dup.png', dup, cached('dog', 'the same bytes as cat/dup.png'));
  await put('dog/ok.jpg', await rgb(50, 50, 13).jpeg().toBuffer(), cached('dog', 'plain RGB JPEG'));
  await put('dog/ok-2.webp', await rgb(50, 50, 14).webp().toBuffer(), cached('dog', 'plain WebP'));

  // Odd class folders.
  await put('v1.2/a.png', await rgb(30, 30, 15).png().toBuffer(), cached('v1.2', 'image in a class folder with a dot in its name'));
  await put('v1.2/b.jpg', await rgb(30, 30, 16).jpeg().toBuffer(), cached('v1.2', 'image in a class folder with a dot in its name'));
  await put('wild cät/a.png', await rgb(30, 30, 17).png().toBuffer(), cached('wild cät', 'image in a class folder with a space and unicode in its name'));
  await fs.mkdir(path.join(root, 'empty-class'));
  await put('empty-class/.DS_Store', noise(16, 6), { outcome: 'hidden', what: '.DS_Store in an otherwise empty class folder' });
  entries.push({ path: 'empty-class', what: 'class folder with no usable images', outcome: 'skipped', reason: /^empty class folder \(no usable images\): left out of the classes$/ });
  await put('stray.png', await rgb(20, 20, 18).png().toBuffer(), skipped(/^not inside a class folder$/, 'image directly in the dataset root'));

  return { root, entries, hidden };
}

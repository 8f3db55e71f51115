import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readClassFolders } from '../../src/data/folder.js';
import { DatasetError } from '../../src/data/errors.js';

let dir = '';
let img: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-folder-'));
  img = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'gray' } }).png().toBuffer();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function put(root: string, files: string[]): Promise<void> {
  for (const f of files) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), img);
  }
}
const reasonsOf = (root: string, skipped: { source: string; reason: string }[]) =>
  Object.fromEntries(skipped.map((s) => [path.relative(root, s.source).split(path.sep).join('/'), s.reason]));

describe('readClassFolders', () => {
  it('reads one class per subfolder, recursively, with sorted POSIX ids and dotted class names', async () => {
    const root = path.join(dir, 'basic');
    await put(root, ['cat/b.png', 'cat/a.jpg', 'cat/sub/deeper/c.webp', 'dog.v2/c.PNG', 'dog.v2/ü n i.png', 'dog.v2/-dash.png', 'Zebra/z.tiff']);
    const ds = await readClassFolders(root);
    expect(ds.classes).toEqual(['Zebra', 'cat', 'dog.v2']);
    expect(ds.items.map((i) => [i.id, i.labels])).toEqual([
      ['Zebra/z.tiff', ['Zebra']],
      ['cat/a.jpg', ['cat']],
      ['cat/b.png', ['cat']],
      ['cat/sub/deeper/c.webp', ['cat']],
      ['dog.v2/-dash.png', ['dog.v2']],
      ['dog.v2/c.PNG', ['dog.v2']],
      ['dog.v2/ü n i.png', ['dog.v2']],
    ]);
    expect(ds.items.every((i) => i.source === path.join(root, i.id))).toBe(true);
    expect(ds.multiLabel).toBe(false);
    expect(ds.skipped).toEqual([]);
    expect(ds.root).toBe(path.resolve(root));
  });

  it('reports every odd entry with its reason; hidden files are only counted', async () => {
    const root = path.join(dir, 'odd');
    await put(root, ['cat/a.png', 'cat/sub/b.png', 'dog/c.png', 'stray.png', 'cat/photo.bmp', 'cat/phone.HEIC', 'cat/notes.txt', 'cat/README']);
    await mkdir(path.join(root, 'empty'), { recursive: true });
    await put(root, ['only-text/readme.txt']);
    await writeFile(path.join(root, 'cat', '.DS_Store'), 'x');
    await put(root, ['.git/objects/x.png', 'cat/.hidden/h.png', '.hiddenclass/h.png']);
    await symlink(path.join(root, 'cat'), path.join(root, 'cat', 'sub', 'loop')); // loop back to an ancestor
    await symlink(path.join(root, 'dog'), path.join(root, 'cat', 'to-dog')); // another class
    await symlink(path.join(root, 'nowhere.png'), path.join(root, 'cat', 'dangling.png'));
    await put(root, ['elsewhere/e.png']);
    await symlink(path.join(root, 'elsewhere', 'e.png'), path.join(root, 'dog', 'linked.png')); // file link: followed
    const ds = await readClassFolders(root);
    expect(ds.classes).toEqual(['cat', 'dog', 'elsewhere']);
    expect(ds.items.map((i) => i.id)).toEqual(['cat/a.png', 'cat/sub/b.png', 'dog/c.png', 'dog/linked.png', 'elsewhere/e.png']);
    const reasons = reasonsOf(root, ds.skipped);
    expect(reasons).toEqual({
      'cat/README': 'not an image file (no extension)',
      'cat/dangling.png': 'file not found',
      'cat/notes.txt': 'not an image file (.txt)',
      'cat/phone.HEIC': expect.stringMatching(/^HEIC is not supported/),
      'cat/photo.bmp': expect.stringMatching(/^BMP is not supported \(sharp has no BMP decoder\)/),
      'cat/sub/loop': expect.stringMatching(/^symlink loop/),
      'cat/to-dog': 'links to the class folder "dog": its images keep their own class',
      empty: expect.stringMatching(/^empty class folder/),
      'only-text': expect.stringMatching(/^empty class folder/),
      'only-text/readme.txt': 'not an image file (.txt)',
      'stray.png': 'not inside a class folder',
    });
    expect(ds.hidden).toBe(4); // .DS_Store, .git, cat/.hidden, .hiddenclass
  });

  it('is deterministic: the same tree read twice gives the same dataset', async () => {
    const root = path.join(dir, 'odd');
    expect(await readClassFolders(root)).toEqual(await readClassFolders(root));
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable class folder is skipped as "permission denied"', async () => {
    const root = path.join(dir, 'locked');
    await put(root, ['open/a.png', 'shut/b.png']);
    await chmod(path.join(root, 'shut'), 0o000);
    try {
      const ds = await readClassFolders(root);
      expect(ds.classes).toEqual(['open']);
      expect(reasonsOf(root, ds.skipped)).toEqual({ shut: 'permission denied' });
    } finally {
      await chmod(path.join(root, 'shut'), 0o755);
    }
  });

  it('a tree with no images, or no folder at all, is a DatasetError saying what was expected', async () => {
    const root = path.join(dir, 'none');
    await put(root, ['a.png']);
    await expect(readClassFolders(root)).rejects.toThrow(DatasetError);
    await expect(readClassFolders(root)).rejects.toThrow(/no images found; expected one subfolder per class.*a\.png: not inside a class folder/);
    await expect(readClassFolders(path.join(dir, 'missing'))).rejects.toThrow(/cannot read the dataset folder \(file not found\)/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCsv, parseCsv, DatasetError } from '../../src/data/csv.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-csv-'));
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'gray' } }).png().toBuffer();
  await mkdir(path.join(dir, 'img'), { recursive: true });
  for (const f of ['a.png', 'b, c.png', 'd.png', 'say "hi".png', 'e\nf.png']) await writeFile(path.join(dir, 'img', f), png);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function csv(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('parseCsv (RFC 4180)', () => {
  it('splits fields, honours quotes, doubled quotes, quoted commas and newlines, CRLF and a BOM', () => {
    const rows = parseCsv('\ufeffa,b\r\n"x, y","say ""hi"""\n"multi\nline",z\n\n  \nlast,row');
    expect(rows).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 3, fields: ['multi\nline', 'z'] },
      { line: 7, fields: ['last', 'row'] },
    ]);
  });

  it('keeps empty fields and a trailing empty field', () => {
    expect(parseCsv('a,,c,\n').map((r) => r.fields)).toEqual([['a', '', 'c', '']]);
    expect(parseCsv('"",b\n').map((r) => r.fields)).toEqual([['', 'b']]);
  });

  it('bad quoting is a DatasetError naming the file and line', () => {
    expect(() => parseCsv('path,labels\n"a.png,cat\n', 'x.csv')).toThrow(DatasetError);
    expect(() => parseCsv('path,labels\nok.png,cat\n"a.png,cat\n', 'x.csv')).toThrow(/^x\.csv:3: unterminated quoted field/);
    expect(() => parseCsv('path,labels\na"b.png,cat\n', 'x.csv')).toThrow(/^x\.csv:2: a quote inside an unquoted field/);
    expect(() => parseCsv('path,labels\n"a\nb" c,cat\n', 'x.csv')).toThrow(/^x\.csv:3: text after a closing quote/);
  });
});

describe('readCsv', () => {
  it('reads path and labels columns in any order, | for several labels, paths relative to the CSV', async () => {
    const file = await csv(
      'labels.csv',
      'labels,extra,path\r\ncat,1,img/a.png\n"cat|dog",2,"img/b, c.png"\n\n dog ,3,img/d.png\ndog|dog,4,"img/say ""hi"".png"\nbird,5,"img/e\nf.png"\n',
    );
    const ds = await readCsv(file);
    expect(ds.items.map((i) => [i.id, i.labels])).toEqual([
      ['img/a.png', ['cat']],
      ['img/b, c.png', ['cat', 'dog']],
      ['img/d.png', ['dog']],
      ['img/say "hi".png', ['dog']], // a label repeated in a row counts once
      ['img/e\nf.png', ['bird']],
    ]);
    expect(ds.items[0].source).toBe(path.join(dir, 'img', 'a.png'));
    expect(ds.multiLabel).toBe(true);
    expect(ds.classes).toEqual(['bird', 'cat', 'dog']);
    expect(ds.skipped).toEqual([]);
    expect(ds.root).toBe(dir);
  });

  it('single-label CSVs are not multi-label; a "label" header works too', async () => {
    const ds = await readCsv(await csv('single.csv', 'path,label\nimg/a.png,cat\nimg/d.png,dog\n'));
    expect(ds.multiLabel).toBe(false);
    expect(ds.classes).toEqual(['cat', 'dog']);
  });

  it('skips bad rows with file:line reasons and keeps the rest', async () => {
    const file = await csv(
      'rows.csv',
      ['path,labels', 'img/a.png,cat', 'img/missing.png,bird', 'img/d.png,', 'img/d.png,cat||dog', ',cat', 'img/a.png,dog', 'img/d.png,dog,extra', 'img,dog', '"img/b, c.png",dog'].join('\n'),
    );
    const ds = await readCsv(file);
    expect(ds.items.map((i) => i.id)).toEqual(['img/a.png', 'img/b, c.png']);
    expect(ds.skipped.map((s) => s.reason)).toEqual([
      'rows.csv:3: file not found: img/missing.png',
      'rows.csv:4: empty label for img/d.png',
      'rows.csv:5: empty label for img/d.png',
      'rows.csv:6: empty path',
      'rows.csv:7: img/a.png is listed twice; the first row is used',
      'rows.csv:8: 3 fields, the header has 2',
      'rows.csv:9: is a directory: img',
    ]);
  });

  it('line numbers count the lines inside quoted fields', async () => {
    const ds = await readCsv(await csv('lines.csv', 'path,labels\n"img/e\nf.png",cat\nimg/gone.png,cat\n'));
    expect(ds.skipped.map((s) => s.reason)).toEqual(['lines.csv:4: file not found: img/gone.png']);
  });

  it('a missing header, an empty file, bad quoting or no usable row is a DatasetError', async () => {
    await expect(readCsv(await csv('nohead.csv', 'img/a.png,cat\n'))).rejects.toThrow(/nohead\.csv:1: the header must name a "path" and a "labels" column/);
    await expect(readCsv(await csv('empty.csv', '\n\n'))).rejects.toThrow(/empty CSV/);
    await expect(readCsv(await csv('quote.csv', 'path,labels\nimg/a.png,cat\n"img/d.png,dog\n'))).rejects.toThrow(/quote\.csv:3: unterminated quoted field/);
    await expect(readCsv(await csv('none.csv', 'path,labels\nimg/x.png,cat\n'))).rejects.toThrow(/no usable rows.*none\.csv:2: file not found/);
    await expect(readCsv(path.join(dir, 'absent.csv'))).rejects.toThrow(DatasetError);
  });
});

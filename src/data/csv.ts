/**
 * A dataset as a CSV file with a header naming a `path` column and a `labels` (or `label`) column,
 * in any order. Paths are relative to the CSV's folder (absolute ones are kept). Several labels are
 * separated by `|` (multi-label). Quoting follows RFC 4180 (`"a, b"`, `""` for a quote).
 *
 * Outcomes: a missing image, an empty label or a row with the wrong number of fields is skipped with
 * `file.csv:LINE: reason`; broken quoting, a missing header or no usable rows is an error naming
 * the file and line.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DataItem, Dataset, SkippedItem } from './types.js';
import { readErrorReason } from './image.js';
import { DatasetError } from './errors.js';

export { DatasetError };

/** RFC-4180 rows with the line each starts on. */
export function parseCsv(text: string, file = 'csv'): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let rowLine = 1;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"') {
      if (field.length || afterQuote) throw new DatasetError(`${file}:${line}: a quote inside an unquoted field; quote the whole field and double inner quotes`);
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      afterQuote = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i++;
      fields.push(field);
      rows.push({ line: rowLine, fields });
      fields = [];
      field = '';
      afterQuote = false;
      line++;
      rowLine = line;
    } else {
      if (afterQuote) throw new DatasetError(`${file}:${line}: text after a closing quote`);
      field += ch;
    }
  }
  if (quoted) throw new DatasetError(`${file}:${rowLine}: unterminated quoted field`);
  if (field.length || fields.length) {
    fields.push(field);
    rows.push({ line: rowLine, fields });
  }
  return rows.filter((r) => !(r.fields.length === 1 && r.fields[0].trim() === ''));
}

export async function readCsv(file: string): Promise<Dataset> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new DatasetError(`${file}: cannot read (${readErrorReason(err)})`);
  }
  const name = path.basename(file);
  const rows = parseCsv(text, name);
  if (!rows.length) throw new DatasetError(`${file}: empty CSV; expected a header "path,labels" and one row per image`);
  const header = rows[0].fields.map((h) => h.trim().toLowerCase());
  const pathCol = header.indexOf('path');
  const labelCol = header.indexOf('labels') >= 0 ? header.indexOf('labels') : header.indexOf('label');
  if (pathCol < 0 || labelCol < 0) {
    throw new DatasetError(`${file}:1: the header must name a "path" and a "labels" column; got "${rows[0].fields.join(',')}"`);
  }
  const dir = path.dirname(path.resolve(file));
  const items: DataItem[] = [];
  const skipped: SkippedItem[] = [];
  const ids = new Set<string>();
  const classes = new Set<string>();
  for (const row of rows.slice(1)) {
    const where = `${name}:${row.line}`;
    if (row.fields.length !== header.length) {
      skipped.push({ source: where, reason: `${where}: ${row.fields.length} fields, the header has ${header.length}` });
      continue;
    }
    const rel = row.fields[pathCol].trim();
    const labels = row.fields[labelCol].split('|').map((l) => l.trim());
    if (!rel) {
      skipped.push({ source: where, reason: `${where}: empty path` });
      continue;
    }
    if (!labels.length || labels.some((l) => !l)) {
      skipped.push({ source: where, reason: `${where}: empty label for ${rel}` });
      continue;
    }
    const abs = path.resolve(dir, rel);
    try {
      const st = await fs.stat(abs);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    } catch (err) {
      skipped.push({ source: abs, reason: `${where}: ${readErrorReason(err)}: ${rel}` });
      continue;
    }
    const id = rel.split(path.sep).join('/');
    if (ids.has(id)) {
      skipped.push({ source: abs, reason: `${where}: ${rel} is listed twice; the first row is used` });
      continue;
    }
    ids.add(id);
    const unique = [...new Set(labels)];
    unique.forEach((l) => classes.add(l));
    items.push({ id, source: abs, labels: unique });
  }
  if (!items.length) throw new DatasetError(`${file}: no usable rows (${skipped.length} skipped: ${skipped.slice(0, 3).map((s) => s.reason).join('; ')})`);
  return { root: dir, items, classes: [...classes].sort(), multiLabel: items.some((i) => i.labels.length !== 1), skipped };
}

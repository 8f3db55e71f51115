/**
 * Writes the hostile image zoo (test/zoo/make-zoo.ts) into a folder and prints each entry's
 * documented outcome:
 *   tsx scripts/make-zoo.ts OUT_DIR [--json]
 */
import { makeZoo } from '../test/zoo/make-zoo.js';

const [out, flag] = process.argv.slice(2);
if (!out || out.startsWith('-')) {
  process.stderr.write('usage: tsx scripts/make-zoo.ts OUT_DIR [--json]\n');
  process.exit(2);
}
try {
  const zoo = await makeZoo(out);
  if (flag === '--json') {
    process.stdout.write(`${JSON.stringify({ root: zoo.root, hidden: zoo.hidden, entries: zoo.entries.map((e) => ({ ...e, reason: e.reason?.source })) }, null, 2)}\n`);
  } else {
    for (const e of zoo.entries) process.stdout.write(`${e.path}\t${e.outcome}${e.label ? ` (${e.label})` : ''}${e.reason ? `: ${e.reason.source}` : ''}\t${e.what}\n`);
    process.stdout.write(`zoo written to ${zoo.root}\n`);
  }
} catch (err) {
  process.stderr.write(`make-zoo: ${(err as Error).message}\n`);
  process.exit(1);
}

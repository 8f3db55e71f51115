// Progress on long work (docs/architecture.md, "Module map"): plain lines off a terminal, and on a
// terminal a redrawn bar that never outgrows the window.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { fitLine, formatDuration, Progress } from '../../src/base/progress.js';

/** A stream that keeps what was written; `tty` makes it claim to be a terminal `columns` wide. */
function sink(tty: boolean, columns = 80) {
  const chunks: string[] = [];
  const s = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  s.isTTY = tty;
  s.columns = columns;
  return { stream: s, text: () => chunks.join('') };
}

/** What a terminal shows, line by line: escapes dropped, each `\r` or cursor move starting over. */
function shownLines(raw: string): string[] {
  // eslint-disable-next-line no-control-regex
  const plain = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '\r');
  return plain.split(/[\r\n]/).filter((l) => l.length > 0);
}

describe('Progress', () => {
  it('off a terminal writes plain lines: the first, at most one per `every` seconds, and the last', () => {
    const out = sink(false);
    const p = new Progress({ label: 'precompute', total: 100, unit: 'img/s', stream: out.stream, every: 3600 });
    for (let i = 1; i <= 60; i++) p.update(i);
    p.finish();
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^precompute: 1\/100 \(1\.0%\) [\d.]+ img\/s, ETA /);
    expect(lines[1]).toMatch(/^precompute: 60\/100 \(60\.0%\)/);
    expect(out.text()).not.toMatch(/\r|\x1b/);
  });

  it('off a terminal, reaching the total prints it once', () => {
    const out = sink(false);
    const p = new Progress({ label: 'x', total: 3, stream: out.stream, every: 3600 });
    for (let i = 1; i <= 3; i++) p.update(i);
    p.finish();
    expect(out.text().split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^x: 1\/3/), expect.stringMatching(/^x: 3\/3 \(100\.0%\)/)]);
  });

  it('quiet writes nothing', () => {
    const out = sink(true, 40);
    const p = new Progress({ label: 'x', total: 3, stream: out.stream, quiet: true });
    p.update(2);
    p.finish();
    expect(out.text()).toBe('');
  });

  it.each([20, 40, 120])('on a %i-column terminal every drawn line fits in the width', (columns) => {
    const out = sink(true, columns);
    const p = new Progress({ label: 'precompute', total: 50, unit: 'img/s', stream: out.stream, plain: false });
    for (let i = 1; i <= 50; i++) p.update(i, 'a long extra note that would wrap a narrow window');
    p.finish();
    const lines = shownLines(out.text());
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect([...l].length).toBeLessThan(columns);
    // The last state drawn is the end, and the bar ends its line.
    expect(out.text().endsWith('\n')).toBe(true);
    expect(lines.at(-1)).toMatch(columns >= 40 ? /50\/50/ : /^precompute/);
  });
});

describe('fitLine', () => {
  it('keeps the whole bar when there is room, shrinks it, then drops it and cuts the text', () => {
    expect(fitLine(0.5, 'abc', 80)).toBe(`${'█'.repeat(14)}${'░'.repeat(14)} abc`);
    const mid = fitLine(1, 'x'.repeat(20), 30);
    expect([...mid].length).toBe(29);
    expect(mid.startsWith('████████ ')).toBe(true);
    expect(fitLine(0.5, 'x'.repeat(50), 30)).toBe(`${'x'.repeat(28)}…`);
  });

  it('formatDuration', () => {
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(NaN)).toBe('--');
  });
});

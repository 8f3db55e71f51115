// One schema per options object (docs/architecture.md, "Options"): an edge value is accepted or
// refused identically by a CLI flag, a config file and a library call, and the CLI's exit codes
// follow one rule for every command.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { parseTrainConfig } from '../../src/cli/config.js';
import { runTrain } from '../../src/jobs/train.js';
import { Mixer } from '../../src/mixup/mixer.js';
import { OptionError, UsageError } from '../../src/base/errors.js';
import { FLAGS, helpOf } from '../../src/cli/flags.js';
import { FeatureCache, makeHeader } from '../../src/cache/index.js';

let dir = '';
let notACache = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-options-'));
  // Exists, so the path rule passes; holds no cache, so an accepted run stops at opening it.
  notACache = path.join(dir, 'empty');
  await mkdir(notACache);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs the CLI in this process; resolves with the exit code and what it wrote to stderr. */
async function cli(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'mixhead', ...args]);
    return { code, stderr };
  } finally {
    spy.mockRestore();
    out.mockRestore();
    process.exitCode = undefined;
  }
}

/** [flag, options path, text as typed, accepted?] — the two drifts of issue 12 first. */
const EDGES: Array<[string, string, string, boolean]> = [
  ['--label-smoothing', 'mixup.labelSmoothing', '1', false],
  ['--off-after-epoch', 'mixup.offAfterEpoch', '0', true],
  ['--label-smoothing', 'mixup.labelSmoothing', '0.99', true],
  ['--label-smoothing', 'mixup.labelSmoothing', '-0.1', false],
  ['--off-after-epoch', 'mixup.offAfterEpoch', '-1', false],
  ['--off-after-epoch', 'mixup.offAfterEpoch', '1.5', false],
  ['--alpha', 'mixup.alpha', '0', true],
  ['--alpha', 'mixup.alpha', '-1', false],
  ['--cutmix-alpha', 'mixup.cutmixAlpha', '-0.5', false],
  ['--mix-prob', 'mixup.prob', '1', true],
  ['--mix-prob', 'mixup.prob', '1.01', false],
  ['--switch-prob', 'mixup.switchProb', '0', true],
  ['--lambda', 'mixup.lambda', 'element', false],
  ['--pairs', 'mixup.pairs', 'differentClass', true],
  ['--pairing', 'mixup.pairing', 'roll', false],
  ['--epochs', 'epochs', '1', true],
  ['--epochs', 'epochs', '0', false],
  ['--epochs', 'epochs', '2.5', false],
  ['--batch-size', 'batchSize', '0', false],
  ['--lr', 'lr', '0', false],
  ['--lr', 'lr', '1e-9', true],
  ['--dropout', 'dropout', '0', true],
  ['--dropout', 'dropout', '1', false],
  ['--valid-split', 'validSplit', '0', false],
  ['--valid-split', 'validSplit', '1', false],
  ['--valid-split', 'validSplit', '0.5', true],
  ['--weight-decay', 'weightDecay', '-0.1', false],
  ['--warmup', 'warmupEpochs', '0.5', true],
  ['--patience', 'patience', '0', false],
  ['--seed', 'seed', '-1', false],
  ['--seed', 'seed', '7', true],
  ['--head', 'head', 'resnet', false],
  ['--head', 'head', 'conv', true],
  ['--mix-at', 'mixAt', 'output', false],
  ['--optimizer', 'optimizer', 'adamw', true],
  ['--schedule', 'schedule', 'onecycle', true],
  ['--labels', 'labels', 'blend', true],
];

/** The JSON value a flag's text stands for (what a config file or a library caller would write). */
function valueOf(text: string): unknown {
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

function nest(dotted: string, value: unknown): Record<string, unknown> {
  const keys = dotted.split('.');
  return keys.reduceRight<unknown>((inner, k) => ({ [k]: inner }), value) as Record<string, unknown>;
}

describe('one schema: CLI flag, config file and library call agree', () => {
  it.each(EDGES)('%s %s = %s: accepted %s everywhere', async (flag, field, text, accepted) => {
    const value = valueOf(text);
    const out = path.join(dir, `run-${flag.slice(2)}-${text}`);

    // 1. The flag.
    const viaFlag = await cli('train', '--cache', notACache, '--out', out, flag, text);
    if (accepted) {
      // Past the options: the run stopped at the (empty) cache, exit 1, with no word about the flag.
      expect(viaFlag.code, viaFlag.stderr).toBe(1);
      expect(viaFlag.stderr).not.toContain(flag);
    } else {
      expect(viaFlag.code).toBe(2);
      expect(viaFlag.stderr).toMatch(new RegExp(`^mixhead: ${flag} ${text.replace('.', '\\.')}: use `));
      expect(viaFlag.stderr.trim().split('\n')).toHaveLength(1);
    }

    // 2. The config file.
    const file = path.join(dir, `cfg-${flag.slice(2)}-${text}.json`);
    const config = nest(field, value);
    await writeFile(file, JSON.stringify(config));
    const parse = () => parseTrainConfig(config, file);
    if (accepted) expect(parse()).toEqual(config);
    else expect(parse).toThrow(UsageError);
    const viaConfig = await cli('train', '--cache', notACache, '--out', out, '--config', file);
    expect(viaConfig.code, viaConfig.stderr).toBe(accepted ? 1 : 2);
    if (!accepted) expect(viaConfig.stderr).toContain(`${file}: ${field} = `);

    // 3. The library call.
    const err = await runTrain({ cache: notACache, out, ...config }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    if (accepted) expect(err).not.toBeInstanceOf(OptionError);
    else expect((err as Error).message).toMatch(new RegExp(`^${field.replace('.', '\\.')} = .*: use `));
    // The mixer, the lower edge, agrees on its own fields.
    if (field.startsWith('mixup.')) {
      const make = () => new Mixer(config.mixup as object, ['a', 'b']);
      if (accepted) expect(make).not.toThrow();
      else expect(make).toThrow(OptionError);
    }
  });

  it('every flag of the table shows its allowed values and default from the schemas', () => {
    const help = Object.fromEntries(FLAGS.map((r) => [`${r.scope} ${r.flag}`, helpOf(r)]));
    expect(help['train --head <type>']).toMatch(/\(linear, mlp, conv\) \[default: linear\]$/);
    expect(help['train --alpha <a>']).toMatch(/\[default: 0\.4\]$/);
    expect(help['train --epochs <n|auto>']).toMatch(/\[default: auto\]$/);
    expect(help['train --lr <rate|auto>']).toMatch(/\[default: auto\]$/);
    expect(help['compare --seeds <n>']).toMatch(/\[default: 3\]$/);
    expect(help['lrFind --rule <rule>']).toMatch(/\(steepest, minimum\/10\) \[default: steepest\]$/);
    expect(help['precompute --dtype <type>']).toMatch(/\(float32, float16, uint8\) \[default: float16\]$/);
    expect(help['compare --alphas <list>']).toMatch(/\[default: 0,0\.2,0\.4\]$/);
  });
});

describe('exit codes', () => {
  it('a path named on the command line that does not exist exits 2 in every command', async () => {
    const gone = path.join(dir, 'does-not-exist');
    const cases: string[][] = [
      ['precompute', '--data', gone, '--cache', path.join(dir, 'c')],
      ['inspect', gone],
      ['cache', 'merge', path.join(dir, 'm'), gone],
      ['cache', 'export', gone, path.join(dir, 'x')],
      ['train', '--cache', gone, '--out', path.join(dir, 'o')],
      ['train', '--cache', notACache, '--valid', gone, '--out', path.join(dir, 'o')],
      ['train', '--cache', notACache, '--out', path.join(dir, 'o'), '--config', gone],
      ['eval', '--model', gone, '--cache', notACache],
      ['eval', '--model', notACache, '--cache', gone],
      ['predict', '--model', notACache, gone],
      ['compare', '--cache', gone, '--out', path.join(dir, 'o')],
    ];
    for (const args of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^mixhead: (--[a-z]+ )?${gone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such file or directory\\n$`));
    }
  });

  it('a config file naming a missing cache exits 2 and names the file', async () => {
    const file = path.join(dir, 'gone-cache.json');
    await writeFile(file, JSON.stringify({ cache: path.join(dir, 'nowhere') }));
    const r = await cli('train', '--out', path.join(dir, 'o'), '--config', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: cache ${path.join(dir, 'nowhere')}: no such file or directory`);
  });

  it('train and compare need --out (or "out" in --config): exit 2', async () => {
    for (const cmd of ['train', 'compare']) {
      const r = await cli(cmd, '--cache', notACache);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('mixhead: --out is required (or "out" in --config)\n');
    }
  });

  it('a job that fails past the checks exits 1', async () => {
    const r = await cli('inspect', notACache);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mixhead: /);
  });
});

describe('compare through the flag table', () => {
  it('runs one head per setting from the sweep flags, and refuses to overwrite its runs without --overwrite', async () => {
    const cache = path.join(dir, 'tiny');
    const c = FeatureCache.create(cache, makeHeader({ backbone: { id: 't', weightsHash: 'h', cut: 'c', kind: 'graph' }, preprocess: { size: 8, range: [0, 1], fit: 'cover' }, featureShape: [1, 1, 4], dtype: 'float32', classes: ['a', 'b'], multiLabel: false }));
    c.putMany(Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, id: `i${i}`, source: 's', labels: [i % 2 ? 'a' : 'b'], features: Float32Array.from({ length: 4 }, (_, j) => (j === i % 2 ? 1 : 0) + i / 100) })));
    await c.close();
    const out = path.join(dir, 'cmp');
    const args = ['compare', '--cache', cache, '--valid-split', '0.5', '--out', out, '--alphas', '0,0.4', '--heads', 'linear', '--epochs', '1', '--batch-size', '4', '--json'];
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    let code: number;
    try {
      code = await main(['node', 'mixhead', ...args]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { rows: { name: string }[] }).rows.map((r) => r.name)).toEqual(['linear-no-mixup', 'linear-features-a0.4']);
    const again = await cli(...args);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/holds a run already/);
  });
});

describe('field builders', () => {
  it('orWords: a number in range or one of the words; each refusal says what is allowed', async () => {
    const { z } = await import('zod');
    const { ALLOWED, field, parseOptions } = await import('../../src/base/options.js');
    const schema = z.object({ lr: field.orWords(field.positive(), ALLOWED.positive, ['auto'] as const) }).strict();
    expect(parseOptions(schema, { lr: 'auto' })).toEqual({ lr: 'auto' });
    expect(parseOptions(schema, { lr: 0.01 })).toEqual({ lr: 0.01 });
    expect(() => parseOptions(schema, { lr: 0 })).toThrow(/^lr = 0: use a number > 0$/);
    expect(() => parseOptions(schema, { lr: 'fast' })).toThrow(/^lr = "fast": use a number > 0, or auto$/);
    expect(() => parseOptions(schema, { lr: 0.1, epoch: 3 })).toThrow(/^unknown option 'epoch'; valid options: lr$/);
  });
});

#!/usr/bin/env node
/**
 * The `mixhead` command: parse, validate, call the library, print. Flags come from one table
 * (src/cli/flags.ts) and are checked by the same schemas as config files and library calls.
 * Every subcommand takes --json for scripts; errors are one line on stderr (`mixhead: …`) with a
 * documented exit code:
 *   0 success · 1 the job failed · 2 bad usage: a flag, argument or config value that is not
 *   allowed, or a path named on the command line that does not exist · 3 precompute cached
 *   nothing, or skipped files under --strict.
 */
import { Command } from 'commander';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { selectBackend, describeBackend, type BackendInfo } from '../tfjs/backend.js';
import { listBackbones } from '../backbone/index.js';
import { inspectOnnx } from '../engine/index.js';
import { precompute, type PrecomputeArgs } from '../jobs/precompute.js';
import { inspectCache } from '../cache/inspect.js';
import { mergeCaches } from '../cache/merge.js';
import { Progress } from '../base/progress.js';
import { exportCache } from '../cache/export.js';
import { exportWeb, type ExportWebArgs } from '../jobs/export-web.js';
import { runEval } from '../jobs/eval.js';
import { runLrFind, type RunLrFindArgs } from '../jobs/lr-find.js';
import { runPredict } from '../jobs/predict.js';
import { runTrain, type RunTrainArgs } from '../jobs/train.js';
import { LR_FIND_DEFAULTS } from '../jobs/lr-find-options.js';
import { runCompare, type CompareArgs } from '../jobs/compare.js';
import { loadConfig } from './config.js';
import { OptionError, UsageError } from '../base/errors.js';
import { parseOptions } from '../base/options.js';
import { addFlags, mustExist, rowsFor, scopeValues, type FlagRow, type Scope } from './flags.js';
import { COMPARE_DEFAULTS } from '../jobs/compare-options.js';
import { trainConfigSchema, type TrainConfig } from '../jobs/train-options.js';
import { formatTrainTable, formatCompareTable, formatMetrics, formatInspect, formatOnnxInspection } from '../report/format.js';
import { parseEngine, resolveEngine, type EngineChoice } from '../engine/index.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, nothingCached: 3 } as const;

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The version in package.json (found upwards from this file: src/ when run from source, dist/src/ when built). */
export function mixheadVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'mixhead' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/** What every action gets: the flags as commander parsed them, and the rows they came from. */
interface Ctx {
  opts: Record<string, unknown>;
  rows: FlagRow[];
  json: boolean;
  verbose: boolean;
  values(scope: Scope): Promise<Record<string, unknown>>;
}

interface CommandSpec {
  /** `train`, or `cache merge` for a subcommand of `cache`. */
  name: string;
  description: string;
  /** Positional arguments: [commander syntax, description, whether each named path must exist]. */
  args?: [string, string, boolean][];
  /** Option scopes whose flags the command takes (src/cli/flags.ts). */
  scopes?: Scope[];
  /** The command line's own flags it takes, by path (json, verbose, config…). */
  cli?: string[];
  example: string;
  run(positional: unknown[], ctx: Ctx): Promise<void>;
}

async function backend(ctx: Ctx): Promise<BackendInfo> {
  const info = await selectBackend({ log: ctx.json ? undefined : say, verbose: ctx.verbose });
  if (!ctx.json) say(describeBackend(info));
  return info;
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/**
 * --config (checked), then the flags given over it; then the checks across fields and the paths.
 * `needOut`: the command writes a run (train, compare); a command that only reads the cache passes false.
 */
async function trainOptions(ctx: Ctx, needOut = true): Promise<RunTrainArgs> {
  const cli = await ctx.values('cli');
  const flags = (await ctx.values('train')) as TrainConfig;
  const configFile = cli.config as string | undefined;
  const fromFile = configFile ? await loadConfig(configFile) : {};
  const merged: TrainConfig = { ...fromFile, ...flags };
  if (fromFile.mixup || flags.mixup) merged.mixup = { ...fromFile.mixup, ...flags.mixup };
  parseOptions(trainConfigSchema, merged, {}, UsageError);
  if (!merged.cache) throw new UsageError('--cache is required (or "cache" in --config)');
  if (needOut && !merged.out) throw new UsageError('--out is required (or "out" in --config)');
  const named = (key: 'cache' | 'valid') => (flags[key] !== undefined ? `--${key}` : `${configFile}: ${key}`);
  if (!flags.cache) await mustExist(named('cache'), merged.cache);
  if (merged.valid && !flags.valid) await mustExist(named('valid'), merged.valid);
  return merged as RunTrainArgs;
}

/** `--engine` (docs/engine.md), checked; undefined leaves the choice to MIXHEAD_ENGINE or auto. */
async function engineFlag(ctx: Ctx): Promise<EngineChoice | undefined> {
  const text = (await ctx.values('cli')).engine as string | undefined;
  return text == null ? undefined : parseEngine(text);
}

const COMMANDS: CommandSpec[] = [
  {
    name: 'backbones',
    description: 'List the backbones (what each is, feature shapes, whether each works offline); --inspect an ONNX model for its cut points',
    cli: ['modelsDir', 'json', 'engine', 'inspect', 'size'],
    example: 'mixhead backbones --inspect resnet50.onnx',
    async run(_, ctx) {
      const cli = await ctx.values('cli');
      if (cli.inspect) {
        const r = await inspectOnnx(cli.inspect as string, { size: cli.size as number | undefined });
        print(ctx.json, r, () => formatOnnxInspection(r));
        return;
      }
      const rows = await listBackbones(path.resolve((cli.modelsDir as string | undefined) ?? process.env.MIXHEAD_MODELS_DIR ?? 'models'));
      const engine = await resolveEngine(await engineFlag(ctx), ctx.json ? undefined : say);
      if (!ctx.json) say(`engine: ${engine}${engine === 'onnx' ? ' (ONNX Runtime; a backbone with a layer the converter does not cover runs on TF.js)' : ' (TF.js)'}`);
      print(ctx.json, ctx.json ? rows.map((r) => ({ ...r, engine })) : rows, () =>
        [
          ...rows.map((b) => `${b.id.padEnd(22)} ${(b.featureShape.length ? b.featureShape.join('×') : '?').padEnd(10)} ${b.offline ? 'offline  ' : 'download '} ${b.description}`),
          'any ONNX model: --backbone model.onnx [--node NAME] [--normalize imagenet] (docs/backbones.md)',
        ].join('\n'),
      );
    },
  },
  {
    name: 'precompute',
    description: 'Run the frozen backbone once over a dataset and cache its feature maps (resumable)',
    scopes: ['precompute'],
    cli: ['strict', 'json', 'verbose', 'engine'],
    example: 'mixhead precompute --data photos/ --cache cache/photos --dtype uint8 --workers 2',
    async run(_, ctx) {
      const args = (await ctx.values('precompute')) as unknown as PrecomputeArgs;
      const engine = await engineFlag(ctx);
      const info = await backend(ctx);
      const r = await precompute({ ...args, backend: info.name, log: say, ...(engine ? { engine } : {}) });
      print(ctx.json, r, () => {
        const lines = [
          `cache ${r.cache}: ${r.total} entries (${r.computed} computed, ${r.reused} already cached, ${r.removed} removed, ${r.skipped.length} skipped)`,
          `${r.imagesPerSecond.toFixed(1)} img/s on engine ${r.engine} (${r.runtime}); ${r.seconds.toFixed(1)} s`,
        ];
        if (r.quantization) lines.push(`uint8: largest quantization error ${r.quantization.maxError.toExponential(3)}, ${r.quantization.clipped} values clipped`);
        for (const s of r.skipped) lines.push(`skipped ${s.source}: ${s.reason}`);
        return lines.join('\n');
      });
      if (r.total === 0 || (ctx.opts.strict && r.skipped.length)) process.exitCode = EXIT.nothingCached;
    },
  },
  {
    name: 'inspect',
    description: 'Describe a feature cache: count, shape, dtype, backbone, classes, skipped files',
    args: [['<cache>', 'cache directory', true]],
    cli: ['json'],
    example: 'mixhead inspect cache/photos',
    async run([dir], ctx) {
      const s = await inspectCache(dir as string);
      const skippedFiles = await skippedOf(dir as string);
      print(ctx.json, { ...s, skippedFiles }, () => formatInspect(s, skippedFiles));
    },
  },
  {
    name: 'cache merge',
    description: 'Join shard caches with identical headers into one',
    args: [
      ['<out>', 'output cache directory', false],
      ['<in...>', 'input shard caches', true],
    ],
    cli: ['json'],
    example: 'mixhead cache merge cache/all cache/shard-0 cache/shard-1',
    async run([out, inputs], ctx) {
      let bar: Progress | undefined;
      const r = await mergeCaches(out as string, inputs as string[], {
        onNotice: (m) => process.stderr.write(`${m}\n`),
        onProgress: ctx.json ? undefined : (done, total) => (bar ??= new Progress({ label: 'merge', total, unit: 'entries/s' })).update(done),
      });
      bar?.finish();
      print(ctx.json, r, () => JSON.stringify(r, null, 2));
    },
  },
  {
    name: 'cache export',
    description: 'Write a cache as features.npy + manifest.json for NumPy and other tools',
    args: [
      ['<cache>', 'cache directory', true],
      ['<out>', 'output folder', false],
    ],
    cli: ['json'],
    example: 'mixhead cache export cache/photos exported/photos',
    async run([dir, out], ctx) {
      const r = await exportCache(dir as string, out as string);
      print(ctx.json, r, () => `${r.count} entries: ${r.featuresPath} and ${r.manifestPath}`);
    },
  },
  {
    name: 'train',
    description: 'Train a classifier head on cached features with mixup',
    scopes: ['train'],
    cli: ['config', 'json', 'verbose', 'engine'],
    example: 'mixhead train --cache cache/train --valid cache/test --out runs/a --head mlp --alpha 0.4',
    async run(_, ctx) {
      const args = await trainOptions(ctx);
      // The engine of the input mix point's backbone (an argument, like predict's).
      const engine = await engineFlag(ctx);
      const info = await backend(ctx);
      const r = await runTrain({
        ...args,
        ...(engine ? { engine } : {}),
        log: say,
        onEpoch: ctx.json ? undefined : (e) => say(formatTrainTable([e], e.epoch === 1)),
      });
      const html = r.reportHtml;
      const threshold = r.meta.multiLabel ? `; threshold ${r.meta.threshold}${r.report.threshold ? ' (calibrated on validation)' : ' (no validation set)'}` : '';
      print(ctx.json, { out: r.out, backend: info.name, trainEngine: r.result.engine, measuredOn: r.report.validSize ? 'validation' : 'training', bestEpoch: r.result.bestEpoch, lr: r.result.lr, epochs: r.result.epochs, threshold: r.meta.threshold, metrics: r.metrics, report: html }, () =>
        [
          `best epoch ${r.result.bestEpoch} of ${r.result.history.length} (lr ${r.result.lr.toExponential(2)}${r.result.lrFind ? ' from the lr finder' : ''}): ${formatMetrics(r.metrics)}${threshold}`,
          // Figures on the data the head was fitted to say little: say so where they are read.
          ...(r.report.validSize ? [] : ['(measured on the training set: no validation set was given; pass --valid CACHE or --valid-split 0.2 for figures that mean something)']),
          `model: ${r.out}`,
          `report: ${html}`,
        ].join('\n'),
      );
    },
  },
  {
    name: 'lr-find',
    description: 'Find a learning rate: train a throw-away head while the rate grows, and suggest one from the loss curve',
    scopes: ['lrFind'],
    cli: ['json', 'verbose'],
    example: 'mixhead lr-find --cache cache/train --head mlp --plot runs/lr-find.svg',
    async run(_, ctx) {
      const args = (await ctx.values('lrFind')) as unknown as RunLrFindArgs;
      await backend(ctx);
      const r = await runLrFind({ ...args, plot: args.plot ?? LR_FIND_DEFAULTS.plot });
      const f = r.result;
      print(ctx.json, { ...f, plot: r.plot }, () =>
        [
          f.fallback
            ? `no rate to read off the curve (${f.fallback}; ${f.lrs.length} steps, ${f.seconds.toFixed(1)} s): the features may say little about the labels. The head's usual rate is ${f.suggestion.toExponential(2)}`
            : `suggested lr ${f.suggestion.toExponential(2)} (${f.rule}; the smoothed loss is lowest at ${f.minimumLr.toExponential(2)}${f.diverged ? ', then diverges' : ''}; ${f.lrs.length} steps on ${f.engine}, ${f.seconds.toFixed(1)} s)`,
          `train with: --lr ${Number(f.suggestion.toPrecision(2))}   (or leave --lr out: auto runs this finder)`,
          `plot: ${r.plot}`,
        ].join('\n'),
      );
    },
  },
  {
    name: 'eval',
    description: 'Evaluate a trained model on a cache (refused if made with another backbone)',
    scopes: ['eval'],
    cli: ['json', 'verbose'],
    example: 'mixhead eval --model runs/a --cache cache/test',
    async run(_, ctx) {
      const args = (await ctx.values('eval')) as { model: string; cache: string; tta?: boolean };
      await backend(ctx);
      const r = await runEval(args);
      // With a temperature the metrics are the scaled model's (as predict uses it); say what T did.
      const t = r.uncalibrated ? `\ntemperature ${r.temperature.toFixed(3)} (meta.json): NLL ${r.uncalibrated.nll.toFixed(4)} → ${r.metrics.nll.toFixed(4)}, ECE ${r.uncalibrated.ece.toFixed(4)} → ${r.metrics.ece.toFixed(4)}` : '';
      print(ctx.json, r, () => `${r.size} samples${r.views > 1 ? ` (mean over ${r.views} views)` : ''}: ${formatMetrics(r.metrics)}${t}`);
    },
  },
  {
    name: 'predict',
    description: 'Predict labels of image files with a trained model',
    args: [['<images...>', 'image files', true]],
    scopes: ['predict'],
    cli: ['json', 'verbose', 'engine'],
    example: 'mixhead predict --model runs/a shoe.jpg bag.png --top 3',
    async run([images], ctx) {
      const args = (await ctx.values('predict')) as { model: string; top?: number; tta?: boolean };
      const engine = await engineFlag(ctx);
      await backend(ctx);
      const r = await runPredict({ ...args, images: images as string[], engine, log: ctx.json ? undefined : say });
      print(ctx.json, r, () =>
        r.map((p) => (p.error ? `${p.file}: skipped (${p.error})` : `${p.file}: ${p.labels ? `[${p.labels.join(', ')}] ` : ''}${p.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`)).join('\n'),
      );
      if (r.every((p) => p.error)) process.exitCode = EXIT.failed;
    },
  },
  {
    name: 'export',
    description: 'Export a trained model as a static web page that classifies images in the browser',
    scopes: ['exportWeb'],
    cli: ['json'],
    example: 'mixhead export --model runs/a --web web/a && python3 -m http.server -d web/a 8000',
    async run(_, ctx) {
      const args = (await ctx.values('exportWeb')) as unknown as ExportWebArgs;
      const r = await exportWeb(args);
      print(ctx.json, r, () => `${r.files.length} files (${(r.bytes / 1e6).toFixed(1)} MB) in ${r.out}: serve that folder over HTTP and open index.html`);
    },
  },
  {
    name: 'compare',
    description: 'Train one head per α / mix point / head on the same cache and tabulate validation metrics',
    scopes: ['train', 'compare'],
    cli: ['config', 'json', 'verbose', 'engine'],
    example: 'mixhead compare --cache cache/train --valid cache/test --alphas 0,0.2,0.4 --mix-ats features,hidden --seeds 3 --out runs/cmp',
    async run(_, ctx) {
      const { out, ...base } = await trainOptions(ctx);
      const sweep = (await ctx.values('compare')) as Partial<CompareArgs>;
      const engine = await engineFlag(ctx);
      const info = await backend(ctx);
      // New sweep options need no code here: a field in the compare schema, its default, a flag row.
      const r = await runCompare({
        ...COMPARE_DEFAULTS,
        heads: [base.head ?? 'linear'],
        ...sweep,
        base: engine ? { ...base, engine } : base,
        out,
        log: ctx.json ? undefined : say,
      });
      print(ctx.json, { ...r, backend: info.name }, () => `${formatCompareTable(r.rows, r.floors)}\nreport: ${r.report}`);
    },
  },
];

export function buildProgram(): Command {
  const program = new Command('mixhead')
    .description('Head-only fine-tuning of image classifiers with feature-level (manifold) mixup, on TensorFlow.js')
    .version(mixheadVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`mixhead: ${str.replace(/^error: /, '')}`) });
  const parents = new Map<string, Command>([['', program]]);
  for (const spec of COMMANDS) defineCommand(program, parents, spec);
  return program;
}

function defineCommand(program: Command, parents: Map<string, Command>, spec: CommandSpec): void {
  const words = spec.name.split(' ');
  const parentName = words.slice(0, -1).join(' ');
  let parent = parents.get(parentName);
  if (!parent) {
    parent = program.command(parentName).description('Cache maintenance');
    parents.set(parentName, parent);
  }
  const cmd = parent.command(words[words.length - 1]).description(spec.description);
  for (const [syntax, description] of spec.args ?? []) cmd.argument(syntax, description);
  const rows = rowsFor(spec.scopes ?? [], spec.cli ?? []);
  addFlags(cmd, rows);
  cmd.addHelpText('after', `\nExample:\n  ${spec.example}`);
  cmd.action(async () => {
    const opts = cmd.opts() as Record<string, unknown>;
    const positional = cmd.processedArgs as unknown[];
    // The one rule for paths: a missing one is a usage error (exit 2), before any work starts.
    for (const [i, [, , mustBeThere]] of (spec.args ?? []).entries()) {
      if (!mustBeThere) continue;
      const v = positional[i];
      for (const p of Array.isArray(v) ? v : [v]) await mustExist('', String(p));
    }
    await spec.run(positional, { opts, rows, json: !!opts.json, verbose: !!opts.verbose, values: (scope) => scopeValues(scope, rows, opts) });
  });
}

async function skippedOf(dir: string) {
  const { FeatureCache } = await import('../cache/store.js');
  const cache = FeatureCache.open(dir, { readonly: true });
  try {
    return cache.skipped();
  } finally {
    await cache.close();
  }
}

export async function main(argv = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    const e = err as Error & { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    // lmdb and Node errors carry numeric or non-commander codes: only commander's own are usage errors.
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return EXIT.usage; // commander has printed it
    // One line per problem, each marked as ours.
    process.stderr.write(`${e.message.split('\n').map((l) => `mixhead: ${l}`).join('\n')}\n`);
    if (process.env.MIXHEAD_DEBUG) process.stderr.write(`${e.stack}\n`);
    return e instanceof OptionError ? EXIT.usage : EXIT.failed;
  }
}

function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    // npm's bin entry is a symlink to this file.
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isMain()) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`mixhead: ${(err as Error).message}\n`);
      process.exit(EXIT.failed);
    },
  );
}

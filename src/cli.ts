#!/usr/bin/env node
/**
 * The `mixhead` command: parse, validate, call the library, print. Every subcommand takes --json
 * for scripts; errors are one line on stderr (`mixhead: …`) with a documented exit code:
 *   0 success · 1 the job failed · 2 bad usage, flag or config value · 3 precompute cached nothing,
 *   or skipped files under --strict.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { promises as fs, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { selectBackend, describeBackend, type BackendInfo } from './backend.js';
import { listBackbones } from './backbone/index.js';
import { precompute, parseShard } from './precompute.js';
import { inspectCache } from './cache/inspect.js';
import { mergeCaches } from './cache/merge.js';
import { exportCache } from './cache/export.js';
import { CACHE_DTYPES, type CacheDtype } from './cache/header.js';
import { runEval, runLrFind, runPredict, runTrain, summary, type RunTrainArgs } from './run.js';
import { runCompare } from './compare.js';
import { HEAD_TYPES } from './train/heads.js';
import { MIX_POINTS, OPTIMIZERS, LABEL_MODES } from './train/trainer.js';
import { SCHEDULES } from './train/schedule.js';
import { LR_RULES } from './train/lrfind.js';
import { loadConfig, UsageError } from './config.js';
import { OptionError } from './errors.js';
import { formatTrainTable, formatCompareTable, formatMetrics, formatInspect } from './format.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, nothingCached: 3 } as const;

function number(name: string, check: (v: number) => boolean, allowed: string) {
  return (text: string): number => {
    const v = Number(text);
    if (!Number.isFinite(v) || !check(v)) throw new InvalidArgumentError(`${name} ${text}: ${allowed}`);
    return v;
  };
}
const positiveInt = (name: string) => number(name, (v) => Number.isInteger(v) && v >= 1, 'use a whole number ≥ 1');
const nonNegative = (name: string) => number(name, (v) => v >= 0, 'use a number ≥ 0');
const fraction = (name: string) => number(name, (v) => v > 0 && v < 1, 'use a number between 0 and 1');
const probability = (name: string) => number(name, (v) => v >= 0 && v <= 1, 'use a number in [0, 1]');
/** A flag that takes `auto` or what `parse` accepts. */
const autoOr = <T>(parse: (text: string) => T) => (text: string): T | 'auto' => (text === 'auto' ? 'auto' : parse(text));
const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);

async function backend(json: boolean): Promise<BackendInfo> {
  const info = await selectBackend({ log: json ? undefined : (l) => process.stderr.write(`${l}\n`) });
  if (!json) process.stderr.write(`${describeBackend(info)}\n`);
  return info;
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

export function buildProgram(): Command {
  const program = new Command('mixhead')
    .description('Head-only fine-tuning of image classifiers with feature-level (manifold) mixup, on TensorFlow.js')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`mixhead: ${str.replace(/^error: /, '')}`) });

  program
    .command('backbones')
    .description('List the backbones, their feature shapes and whether each works offline')
    .option('--models-dir <dir>', 'folder of downloaded models', process.env.MIXHEAD_MODELS_DIR ?? 'models')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead backbones --json')
    .action(async (o) => {
      const rows = await listBackbones(path.resolve(o.modelsDir));
      print(!!o.json, rows, () =>
        rows.map((b) => `${b.id.padEnd(22)} ${(b.featureShape.length ? b.featureShape.join('×') : '?').padEnd(10)} ${b.offline ? 'offline  ' : 'download '} ${b.description}`).join('\n'),
      );
    });

  program
    .command('precompute')
    .description('Run the frozen backbone once over a dataset and cache its feature maps (resumable)')
    .requiredOption('--data <path>', 'class-folder directory, labels CSV (path,labels) or IDX images file')
    .requiredOption('--cache <dir>', 'cache directory (created or resumed)')
    .option('--backbone <id|path|url>', 'backbone id, model folder/model.json, or URL', 'bundled-mobilenet-v2')
    .option('--layer <name>', 'cut layer (LayersModel)')
    .option('--node <name>', 'cut node (GraphModel)')
    .option('--model-url <url>', 'download URL for a MobileNet id (TF Hub links rot)')
    .option('--size <px>', 'input size (default: the backbone\'s)', positiveInt('--size'))
    .addOption(new Option('--fit <how>', 'bring images to size: cover (crop the centre), contain (letterbox), fill (stretch)').choices(['cover', 'contain', 'fill']).default('cover'))
    .addOption(new Option('--dtype <type>', 'stored value type').choices(CACHE_DTYPES as string[]).default('float16'))
    .option('--workers <n>', 'worker threads (default: all cores)', positiveInt('--workers'))
    .option('--batch-size <n>', 'images per backbone call', positiveInt('--batch-size'), 16)
    .option('--shard <i/n>', 'process shard i of n (0-based; e.g. $JOB_COMPLETION_INDEX/4)')
    .option('--strict', 'exit 3 when any file was skipped')
    .option('--json', 'machine-readable summary on stdout')
    .addHelpText('after', '\nExample:\n  mixhead precompute --data photos/ --cache cache/photos --dtype uint8 --workers 2')
    .action(async (o) => {
      const shard = o.shard ? parseShardOrUsage(o.shard) : undefined;
      const info = await backend(!!o.json);
      const r = await precompute({
        data: o.data,
        cache: o.cache,
        backbone: { backbone: o.backbone, layer: o.layer, node: o.node, modelUrl: o.modelUrl, preprocess: { fit: o.fit } },
        size: o.size,
        dtype: o.dtype as CacheDtype,
        workers: o.workers,
        batchSize: o.batchSize,
        shard,
        backend: info.name,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      print(!!o.json, r, () => {
        const lines = [
          `cache ${r.cache}: ${r.total} entries (${r.computed} computed, ${r.reused} already cached, ${r.removed} removed, ${r.skipped.length} skipped)`,
          `${r.imagesPerSecond.toFixed(1)} img/s with ${r.workers} worker(s) on ${r.backend}; ${r.seconds.toFixed(1)} s`,
        ];
        if (r.quantization) lines.push(`uint8: largest quantization error ${r.quantization.maxError.toExponential(3)}, ${r.quantization.clipped} values clipped`);
        for (const s of r.skipped) lines.push(`skipped ${s.source}: ${s.reason}`);
        return lines.join('\n');
      });
      if (r.total === 0 || (o.strict && r.skipped.length)) process.exitCode = EXIT.nothingCached;
    });

  program
    .command('inspect')
    .description('Describe a feature cache: count, shape, dtype, backbone, classes, skipped files')
    .argument('<cache>', 'cache directory')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead inspect cache/photos')
    .action(async (dir, o) => {
      const s = await inspectCache(dir);
      const skippedFiles = await skippedOf(dir);
      print(!!o.json, { ...s, skippedFiles }, () => formatInspect(s, skippedFiles));
    });

  const cache = program.command('cache').description('Cache maintenance');
  cache
    .command('merge')
    .description('Join shard caches with identical headers into one')
    .argument('<out>', 'output cache directory')
    .argument('<in...>', 'input shard caches')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead cache merge cache/all cache/shard-0 cache/shard-1')
    .action(async (out, inputs, o) => {
      const r = await mergeCaches(out, inputs);
      print(!!o.json, r, () => JSON.stringify(r, null, 2));
    });

  cache
    .command('export')
    .description('Write a cache as features.npy + manifest.json for NumPy and other tools')
    .argument('<cache>', 'cache directory')
    .argument('<out>', 'output folder')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead cache export cache/photos exported/photos')
    .action(async (dir, out, o) => {
      const r = await exportCache(dir, out);
      print(!!o.json, r, () => `${r.count} entries: ${r.featuresPath} and ${r.manifestPath}`);
    });

  addTrainOptions(
    program.command('train').description('Train a classifier head on cached features with mixup').requiredOption('--out <dir>', 'output folder'),
  )
    .addHelpText('after', '\nExample:\n  mixhead train --cache cache/train --valid cache/test --out runs/a --head mlp --alpha 0.4 --epochs 30')
    .action(async (o) => {
      const args = await trainArgsFrom(o);
      const info = await backend(!!o.json);
      const r = await runTrain({
        ...args,
        log: (l) => process.stderr.write(`${l}\n`),
        onEpoch: o.json ? undefined : (e) => process.stderr.write(`${formatTrainTable([e], e.epoch === 1)}\n`),
      });
      const html = r.reportHtml;
      const threshold = r.meta.multiLabel ? `; threshold ${r.meta.threshold}${r.report.threshold ? ' (calibrated on validation)' : ' (no validation set)'}` : '';
      print(!!o.json, { out: r.out, backend: info.name, bestEpoch: r.result.bestEpoch, lr: r.result.lr, epochs: r.result.epochs, threshold: r.meta.threshold, metrics: r.metrics, report: html }, () =>
        [`best epoch ${r.result.bestEpoch} of ${r.result.history.length} (lr ${r.result.lr.toExponential(2)}${r.result.lrFind ? ' from the lr finder' : ''}): ${formatMetrics(r.metrics)}${threshold}`, `model: ${r.out}`, `report: ${html}`].join('\n'),
      );
    });

  program
    .command('lr-find')
    .description('Find a learning rate: train a throw-away head while the rate grows, and suggest one from the loss curve')
    .requiredOption('--cache <dir>', 'training feature cache')
    .addOption(new Option('--head <type>', 'head architecture (default: linear)').choices([...HEAD_TYPES]))
    .option('--hidden <n>', 'hidden width (mlp, default 512) or channels (conv, default 256)', positiveInt('--hidden'))
    .option('--dropout <p>', 'dropout before the last layer (default: linear 0, mlp 0.3, conv 0.2)', number('--dropout', (v) => v >= 0 && v < 1, 'use a number in [0, 1)'))
    .option('--batch-size <n>', 'batch size (default: 64)', positiveInt('--batch-size'))
    .addOption(new Option('--optimizer <name>', 'optimizer (default: adam)').choices([...OPTIMIZERS]))
    .addOption(new Option('--rule <rule>', 'which point of the curve to suggest (default: steepest)').choices([...LR_RULES]))
    .option('--seed <n>', 'seed (default: 0)', number('--seed', (v) => Number.isInteger(v) && v >= 0, 'use a whole number ≥ 0'))
    .option('--plot <file>', 'write the loss curve here as SVG', 'lr-find.svg')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead lr-find --cache cache/train --head mlp --plot runs/lr-find.svg')
    .action(async (o) => {
      await fs.access(o.cache).catch(() => {
        throw new UsageError(`--cache ${o.cache}: no such directory`);
      });
      await backend(!!o.json);
      const r = await runLrFind({ cache: o.cache, head: o.head, hidden: o.hidden, dropout: o.dropout, batchSize: o.batchSize, optimizer: o.optimizer, rule: o.rule, seed: o.seed, plot: o.plot });
      const f = r.result;
      print(!!o.json, { ...f, plot: r.plot }, () =>
        [
          `suggested lr ${f.suggestion.toExponential(2)} (${f.rule}; the smoothed loss is lowest at ${f.minimumLr.toExponential(2)}${f.diverged ? ', then diverges' : ''}; ${f.lrs.length} steps, ${f.seconds.toFixed(1)} s)`,
          `train with: --lr ${Number(f.suggestion.toPrecision(2))}   (or leave --lr out: auto runs this finder)`,
          `plot: ${r.plot}`,
        ].join('\n'),
      );
    });

  program
    .command('eval')
    .description('Evaluate a trained model on a cache (refused if made with another backbone)')
    .requiredOption('--model <dir>', 'folder written by mixhead train')
    .requiredOption('--cache <dir>', 'feature cache to evaluate on')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead eval --model runs/a --cache cache/test')
    .action(async (o) => {
      await backend(!!o.json);
      const r = await runEval({ model: o.model, cache: o.cache });
      print(!!o.json, r, () => `${r.size} samples: ${formatMetrics(r.metrics)}`);
    });

  program
    .command('predict')
    .description('Predict labels of image files with a trained model')
    .requiredOption('--model <dir>', 'folder written by mixhead train')
    .argument('<images...>', 'image files')
    .option('--top <k>', 'labels to show per image', positiveInt('--top'), 5)
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  mixhead predict --model runs/a shoe.jpg bag.png --top 3')
    .action(async (images, o) => {
      await backend(!!o.json);
      const r = await runPredict({ model: o.model, images, top: o.top });
      print(!!o.json, r, () =>
        r.map((p) => (p.error ? `${p.file}: skipped (${p.error})` : `${p.file}: ${p.labels ? `[${p.labels.join(', ')}] ` : ''}${p.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`)).join('\n'),
      );
      if (r.every((p) => p.error)) process.exitCode = EXIT.failed;
    });

  addTrainOptions(
    program
      .command('compare')
      .description('Train one head per α / mix point / head on the same cache and tabulate validation metrics')
      .requiredOption('--out <dir>', 'output folder (one subfolder per setting, report.html)')
      .option('--alphas <list>', 'α values to compare', '0,0.2,0.4')
      .option('--mix-ats <list>', 'mix points to compare', 'features')
      .option('--heads <list>', 'heads to compare (default: --head)')
      .option('--seeds <n>', 'seeds per setting (--seed, --seed + 1, …); the table gives mean ± sd and a 95% interval against α = 0', positiveInt('--seeds'), 3),
  )
    .addHelpText('after', '\nExample:\n  mixhead compare --cache cache/train --valid cache/test --alphas 0,0.2,0.4 --mix-ats features,hidden --seeds 3 --out runs/cmp')
    .action(async (o) => {
      const base = await trainArgsFrom(o);
      // Lists are checked before any work starts; a bad entry is a usage error naming it.
      const alphas = list(o.alphas).map((t) => {
        const v = Number(t);
        if (!(Number.isFinite(v) && v >= 0)) throw new UsageError(`--alphas ${t}: use numbers ≥ 0`);
        return v;
      });
      const mixAts = list(o.mixAts).map((m) => oneOf('--mix-ats', m, MIX_POINTS));
      const heads = (o.heads ? list(o.heads) : [base.head ?? 'linear']).map((h) => oneOf('--heads', h, HEAD_TYPES));
      const info = await backend(!!o.json);
      const r = await runCompare({
        base,
        alphas,
        mixAts,
        heads,
        seeds: o.seeds,
        out: o.out,
        log: o.json ? undefined : (l) => process.stderr.write(`${l}\n`),
      });
      print(!!o.json, { ...r, backend: info.name }, () => `${formatCompareTable(r.rows)}\nreport: ${r.report}`);
    });

  return program;
}

async function skippedOf(dir: string) {
  const { FeatureCache } = await import('./cache/store.js');
  const cache = FeatureCache.open(dir, { readonly: true });
  try {
    return cache.skipped();
  } finally {
    await cache.close();
  }
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} ${value}: use one of ${allowed.join(', ')}`);
  return value as T;
}

function parseShardOrUsage(text: string) {
  try {
    return parseShard(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function addTrainOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'JSON file with any of these options (flags override it)')
    .option('--cache <dir>', 'training feature cache')
    .option('--valid <dir>', 'validation cache')
    .option('--valid-split <fraction>', 'hold out this fraction of the training cache instead (default: no validation)', fraction('--valid-split'))
    .addOption(new Option('--head <type>', 'head architecture (default: linear)').choices([...HEAD_TYPES]))
    .option('--hidden <n>', 'hidden width (mlp, default 512) or channels (conv, default 256)', positiveInt('--hidden'))
    .option('--dropout <p>', 'dropout before the last layer (default: linear 0, mlp 0.3, conv 0.2)', number('--dropout', (v) => v >= 0 && v < 1, 'use a number in [0, 1)'))
    .addOption(new Option('--mix-at <point>', 'where to mix (default: features)').choices([...MIX_POINTS]))
    .option('--alpha <a>', 'mixup α (λ ~ Beta(α, α)); 0 turns mixup off (default: 0.4)', nonNegative('--alpha'))
    .option('--cutmix-alpha <a>', 'CutMix α on the feature maps; 0 = off (default: 0)', nonNegative('--cutmix-alpha'))
    .option('--switch-prob <p>', 'with both on: chance of CutMix per batch (default: 0.5)', probability('--switch-prob'))
    .option('--mix-prob <p>', 'chance that a batch is mixed at all (default: 1)', probability('--mix-prob'))
    .addOption(new Option('--lambda <mode>', 'one λ per sample or per batch (default: sample)').choices(['sample', 'batch']))
    .option('--no-dominant', 'do not force λ ≥ 0.5 (default: forced)')
    .addOption(new Option('--pairing <how>', 'partner choice (default: permutation)').choices(['permutation', 'flip']))
    .addOption(new Option('--pairs <which>', 'allowed partners (default: any)').choices(['any', 'differentClass']))
    .option('--exclude-classes <list>', 'classes never mixed nor used as partners, comma-separated (default: none)')
    .option('--off-after-epoch <n>', 'stop mixing after this epoch (default: never)', positiveInt('--off-after-epoch'))
    .option('--label-smoothing <eps>', 'label smoothing ε (default: 0)', probability('--label-smoothing'))
    .addOption(new Option('--labels <mode>', 'stack (mix the loss) or blend (mix the targets) (default: auto: stack single-label, blend multi-label)').choices([...LABEL_MODES]))
    .option('--epochs <n|auto>', 'epochs; auto: about 1,000 optimizer steps, 5 to 150 epochs (default: auto)', autoOr(positiveInt('--epochs')))
    .option('--batch-size <n>', 'batch size (default: 64)', positiveInt('--batch-size'))
    .option('--lr <rate|auto>', 'peak learning rate; auto: the lr finder\'s suggestion (default: auto)', autoOr(number('--lr', (v) => v > 0, 'use a number > 0')))
    .option('--threshold-per-class', 'multi-label: also calibrate one decision threshold per class (default: one global threshold)')
    .addOption(new Option('--optimizer <name>', 'optimizer (default: adam)').choices([...OPTIMIZERS]))
    .option('--weight-decay <wd>', 'decoupled weight decay (default: 0.01 for adamw, else 0)', nonNegative('--weight-decay'))
    .addOption(new Option('--schedule <name>', 'learning-rate schedule (default: cosine)').choices([...SCHEDULES]))
    .option('--warmup <epochs>', 'warm-up epochs (default: 0; onecycle: 30% of the steps)', nonNegative('--warmup'))
    .option('--patience <n>', 'early stopping: epochs without improvement (default: never stop early)', positiveInt('--patience'))
    .option('--seed <n>', 'seed of every random choice (default: 0)', number('--seed', (v) => Number.isInteger(v) && v >= 0, 'use a whole number ≥ 0'))
    .option('--resume', 'continue from <out>/checkpoints/last')
    .option('--no-combined', 'skip the combined backbone+head model')
    .option('--json', 'machine-readable output');
}

/** Merges --config (validated) with the flags given; flags win. */
async function trainArgsFrom(o: Record<string, unknown>): Promise<RunTrainArgs> {
  const fromFile = o.config ? await loadConfig(String(o.config)) : {};
  const flags: Partial<RunTrainArgs> = {
    cache: o.cache as string | undefined,
    valid: o.valid as string | undefined,
    validSplit: o.validSplit as number | undefined,
    out: o.out as string,
    head: o.head as RunTrainArgs['head'],
    hidden: o.hidden as number | undefined,
    dropout: o.dropout as number | undefined,
    mixAt: o.mixAt as RunTrainArgs['mixAt'],
    labels: o.labels as RunTrainArgs['labels'],
    epochs: o.epochs as number | 'auto' | undefined,
    thresholdPerClass: o.thresholdPerClass as boolean | undefined,
    batchSize: o.batchSize as number | undefined,
    lr: o.lr as number | 'auto' | undefined,
    optimizer: o.optimizer as RunTrainArgs['optimizer'],
    weightDecay: o.weightDecay as number | undefined,
    schedule: o.schedule as RunTrainArgs['schedule'],
    warmupEpochs: o.warmup as number | undefined,
    patience: o.patience as number | undefined,
    seed: o.seed as number | undefined,
    resume: o.resume as boolean | undefined,
    combined: o.combined === false ? false : undefined,
  };
  const mixFlags = {
    alpha: o.alpha as number | undefined,
    cutmixAlpha: o.cutmixAlpha as number | undefined,
    switchProb: o.switchProb as number | undefined,
    prob: o.mixProb as number | undefined,
    lambda: o.lambda as 'sample' | 'batch' | undefined,
    dominant: o.dominant === false ? false : undefined,
    pairing: o.pairing as 'permutation' | 'flip' | undefined,
    pairs: o.pairs as 'any' | 'differentClass' | undefined,
    excludeClasses: o.excludeClasses ? list(String(o.excludeClasses)) : undefined,
    offAfterEpoch: o.offAfterEpoch as number | undefined,
    labelSmoothing: o.labelSmoothing as number | undefined,
  };
  const defined = <T extends object>(x: T) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as Partial<T>;
  const merged: RunTrainArgs = {
    ...fromFile,
    ...defined(flags),
    mixup: { ...fromFile.mixup, ...defined(mixFlags) },
  } as RunTrainArgs;
  if (!merged.cache) throw new UsageError('--cache is required (or "cache" in --config)');
  if (merged.valid && merged.validSplit) throw new UsageError('give --valid or --valid-split, not both');
  await fs.access(merged.cache).catch(() => {
    throw new UsageError(`--cache ${merged.cache}: no such directory`);
  });
  return merged;
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
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      return EXIT.usage; // commander has printed it

    }
    const usage = e instanceof OptionError;
    process.stderr.write(`mixhead: ${e.message}\n`);
    if (process.env.MIXHEAD_DEBUG) process.stderr.write(`${e.stack}\n`);
    return usage ? EXIT.usage : EXIT.failed;
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
const invoked = isMain();
if (invoked) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`mixhead: ${(err as Error).message}\n`);
      process.exit(EXIT.failed);
    },
  );
}

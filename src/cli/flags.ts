/**
 * The CLI's flags, in ONE table (docs/architecture.md, "Options"): each row names the flag, the
 * options object it fills (`scope`), where in that object (`path`), its help text and how its text
 * becomes a value. Values are checked by the scope's schema — the same one config files and library
 * calls use — so the table holds no rules of its own; defaults and allowed values shown in --help
 * come from the schemas and their DEFAULTS.
 *
 * To add an option: add the field to the scope's schema (and its default to the DEFAULTS there),
 * then add one row here. That is all the CLI needs.
 */
import { Option, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../base/errors.js';
import { choicesOf, parseOptions, schemaAt, defined, field } from '../base/options.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { trainConfigSchema } from '../jobs/train-options.js';
import { MIXUP_DEFAULTS } from '../mixup/options.js';
import { PRECOMPUTE_DEFAULTS, precomputeOptionsSchema, shardOfText } from '../jobs/precompute-options.js';
import { COMPARE_DEFAULTS, compareSweepSchema } from '../jobs/compare-options.js';
import { EVAL_DEFAULTS, PREDICT_DEFAULTS, evalOptionsSchema, predictOptionsSchema } from '../jobs/model-options.js';
import { LR_FIND_DEFAULTS, lrFindOptionsSchema } from '../jobs/lr-find-options.js';
import { exportWebOptionsSchema } from '../jobs/export-web.js';

/** The options object a flag fills. `cli` is the command line's own (--json, --verbose…). */
export type Scope = 'train' | 'compare' | 'precompute' | 'eval' | 'predict' | 'lrFind' | 'exportWeb' | 'cli';

/**
 * How a flag's text becomes a value (the schema then checks it):
 * text: as given · path: as given, and it must exist · number: Number(text), or the text itself when
 * it is a word (so a field may take `auto`; the schema refuses words it does not take) · list:
 * comma-separated strings · numbers: comma-separated numbers · shard: `i/n` → {index, count} · switch: true when
 * given · negate (`--no-x`): false when given · grid (repeatable): `KEY=V1,V2,…` → {key, values}, KEY a
 * train flag without its dashes (`weight-decay`) or an options path (`mixup.labelSmoothing`).
 */
export type Parser = 'text' | 'path' | 'number' | 'list' | 'numbers' | 'shard' | 'switch' | 'negate' | 'grid';

export interface FlagRow {
  /** Commander syntax: `--alpha <a>`, `--resume`, `--no-dominant`. */
  flag: string;
  scope: Scope;
  /** Dotted path of the value in the scope's options object. */
  path: string;
  help: string;
  parse: Parser;
  /** The default as shown in --help, where the scope's DEFAULTS cannot say it (it depends on another option). */
  default?: string;
  /** The command refuses to run without it. */
  required?: boolean;
}

export const FLAGS: readonly FlagRow[] = [
  // The command line's own.
  { flag: '--json', scope: 'cli', path: 'json', parse: 'switch', help: 'machine-readable output on stdout' },
  { flag: '--verbose', scope: 'cli', path: 'verbose', parse: 'switch', help: 'also list the backends tried and why each was skipped' },
  { flag: '--config <file>', scope: 'cli', path: 'config', parse: 'path', help: 'JSON file with any of these options (flags override it)' },
  { flag: '--strict', scope: 'cli', path: 'strict', parse: 'switch', help: 'exit 3 when any file was skipped' },
  { flag: '--models-dir <dir>', scope: 'cli', path: 'modelsDir', parse: 'text', help: 'folder of downloaded models', default: '$MIXHEAD_MODELS_DIR or models' },
  { flag: '--inspect <model.onnx>', scope: 'cli', path: 'inspect', parse: 'path', help: 'list the cut points of an ONNX model: nodes with 4-D outputs and their shapes at the input size' },
  { flag: '--size <px>', scope: 'cli', path: 'size', parse: 'number', help: 'input size for --inspect of a model with a dynamic size', default: "the model's" },
  { flag: '--engine <name>', scope: 'cli', path: 'engine', parse: 'text', help: 'backbone engine: onnx (ONNX Runtime), tfjs, or auto (onnx when it loads; docs/engine.md)', default: 'auto' },

  // precompute (PrecomputeArgs, src/jobs/precompute-options.ts)
  { flag: '--data <path>', scope: 'precompute', path: 'data', parse: 'path', required: true, help: 'class-folder directory, labels CSV (path,labels) or IDX images file' },
  { flag: '--cache <dir>', scope: 'precompute', path: 'cache', parse: 'text', required: true, help: 'cache directory (created or resumed)' },
  { flag: '--backbone <id|path|url>', scope: 'precompute', path: 'backbone.backbone', parse: 'text', help: 'backbone id, model folder/model.json, or URL' },
  { flag: '--layer <name>', scope: 'precompute', path: 'backbone.layer', parse: 'text', help: 'cut layer (LayersModel)' },
  { flag: '--node <name>', scope: 'precompute', path: 'backbone.node', parse: 'text', help: 'cut node (GraphModel), or node or tensor name (ONNX model: mixhead backbones --inspect FILE lists them)' },
  { flag: '--model-url <url>', scope: 'precompute', path: 'backbone.modelUrl', parse: 'text', help: 'download URL for a MobileNet id (TF Hub links rot)' },
  { flag: '--size <px>', scope: 'precompute', path: 'size', parse: 'number', help: 'input size', default: "the backbone's" },
  { flag: '--normalize <preset>', scope: 'precompute', path: 'backbone.preprocess.normalize', parse: 'text', help: 'named normalisation: imagenet = range 0,1 then mean 0.485,0.456,0.406 and std 0.229,0.224,0.225 (torchvision, timm)' },
  { flag: '--range <lo,hi>', scope: 'precompute', path: 'backbone.preprocess.range', parse: 'numbers', help: 'pixel range after scaling 0..255, e.g. 0,1 or -1,1 or 0,255', default: "the backbone's (0,1 for the bundled and MobileNet ones)" },
  { flag: '--mean <r,g,b>', scope: 'precompute', path: 'backbone.preprocess.mean', parse: 'numbers', help: 'per-channel mean subtracted after the range', default: 'none' },
  { flag: '--std <r,g,b>', scope: 'precompute', path: 'backbone.preprocess.std', parse: 'numbers', help: 'per-channel standard deviation divided after the mean', default: 'none' },
  { flag: '--fit <how>', scope: 'precompute', path: 'backbone.preprocess.fit', parse: 'text', help: 'bring images to size: crop the centre, letterbox, or stretch' },
  { flag: '--kernel <k>', scope: 'precompute', path: 'backbone.preprocess.kernel', parse: 'text', help: 'resize kernel: triangle gives browsers the same pixels (export --web); sharp-linear is libvips\' (faster decode, Node only)', default: 'triangle' },
  { flag: '--dtype <type>', scope: 'precompute', path: 'dtype', parse: 'text', help: 'stored value type' },
  { flag: '--workers <n>', scope: 'precompute', path: 'workers', parse: 'number', help: 'worker threads' },
  { flag: '--batch-size <n>', scope: 'precompute', path: 'batchSize', parse: 'number', help: 'images per backbone call (each view counts as an image)' },
  { flag: '--views <n>', scope: 'precompute', path: 'views', parse: 'number', help: 'views per image: plain, mirror, then random resized crops; the cache grows n×, precompute time up to n× (views share a decode)' },
  { flag: '--no-flip', scope: 'precompute', path: 'flip', parse: 'negate', help: 'views without mirroring (text, digits: a mirror image means something else)' },
  { flag: '--shard <i/n>', scope: 'precompute', path: 'shard', parse: 'shard', help: 'process shard i of n (0-based; e.g. $JOB_COMPLETION_INDEX/4)' },

  // train and compare (RunTrainArgs, src/train/options.ts; mixing: MixupArgs, src/mixup/options.ts)
  { flag: '--out <dir>', scope: 'train', path: 'out', parse: 'text', help: 'output folder (required here or in --config)' },
  { flag: '--cache <dir>', scope: 'train', path: 'cache', parse: 'path', help: 'training feature cache (required here or in --config)' },
  { flag: '--valid <dir>', scope: 'train', path: 'valid', parse: 'path', help: 'validation cache' },
  { flag: '--valid-split <fraction>', scope: 'train', path: 'validSplit', parse: 'number', help: 'hold out this fraction of the training cache instead' },
  { flag: '--head <type>', scope: 'train', path: 'head', parse: 'text', help: 'head architecture' },
  { flag: '--hidden <n>', scope: 'train', path: 'hidden', parse: 'number', help: 'hidden width (mlp) or channels (conv)', default: '512 (mlp), 256 (conv)' },
  { flag: '--dropout <p>', scope: 'train', path: 'dropout', parse: 'number', help: 'dropout before the last layer', default: '0 (linear), 0.3 (mlp), 0.2 (conv)' },
  { flag: '--mix-at <point>', scope: 'train', path: 'mixAt', parse: 'text', help: 'where to mix' },
  { flag: '--alpha <a>', scope: 'train', path: 'mixup.alpha', parse: 'number', help: 'mixup α (λ ~ Beta(α, α)); 0 turns mixup off' },
  { flag: '--cutmix-alpha <a>', scope: 'train', path: 'mixup.cutmixAlpha', parse: 'number', help: 'CutMix α on the feature maps; 0 = off' },
  { flag: '--switch-prob <p>', scope: 'train', path: 'mixup.switchProb', parse: 'number', help: 'with both on: chance of CutMix per batch' },
  { flag: '--mix-prob <p>', scope: 'train', path: 'mixup.prob', parse: 'number', help: 'chance that a batch is mixed at all' },
  { flag: '--lambda <mode>', scope: 'train', path: 'mixup.lambda', parse: 'text', help: 'one λ per sample or per batch' },
  { flag: '--no-dominant', scope: 'train', path: 'mixup.dominant', parse: 'negate', help: 'do not force λ ≥ 0.5' },
  { flag: '--pairing <how>', scope: 'train', path: 'mixup.pairing', parse: 'text', help: 'partner choice' },
  { flag: '--pairs <which>', scope: 'train', path: 'mixup.pairs', parse: 'text', help: 'allowed partners' },
  { flag: '--exclude-classes <list>', scope: 'train', path: 'mixup.excludeClasses', parse: 'list', help: 'classes never mixed nor used as partners (comma-separated)' },
  { flag: '--off-after-epoch <n>', scope: 'train', path: 'mixup.offAfterEpoch', parse: 'number', help: 'stop mixing after this epoch (0: never mix)', default: 'never' },
  { flag: '--label-smoothing <eps>', scope: 'train', path: 'mixup.labelSmoothing', parse: 'number', help: 'label smoothing ε' },
  { flag: '--labels <mode>', scope: 'train', path: 'labels', parse: 'text', help: 'stack mixes the loss, blend the targets, auto picks by the data' },
  { flag: '--epochs <n|auto>', scope: 'train', path: 'epochs', parse: 'number', help: 'epochs; auto: about 1,000 optimizer steps, 5 to 150 epochs' },
  { flag: '--batch-size <n>', scope: 'train', path: 'batchSize', parse: 'number', help: 'batch size' },
  { flag: '--lr <rate|auto>', scope: 'train', path: 'lr', parse: 'number', help: "peak learning rate; auto: the lr finder's suggestion (mixhead lr-find)" },
  { flag: '--threshold-per-class', scope: 'train', path: 'thresholdPerClass', parse: 'switch', help: 'multi-label: also calibrate one decision threshold per class on validation (default: one global threshold)' },
  { flag: '--optimizer <name>', scope: 'train', path: 'optimizer', parse: 'text', help: 'optimizer' },
  { flag: '--weight-decay <wd>', scope: 'train', path: 'weightDecay', parse: 'number', help: 'decoupled weight decay', default: '0.01 (adamw), 0' },
  { flag: '--schedule <name>', scope: 'train', path: 'schedule', parse: 'text', help: 'learning-rate schedule' },
  { flag: '--warmup <epochs>', scope: 'train', path: 'warmupEpochs', parse: 'number', help: 'warm-up epochs' },
  { flag: '--patience <n>', scope: 'train', path: 'patience', parse: 'number', help: 'early stopping: epochs without improvement', default: 'never stop early' },
  { flag: '--balance <how>', scope: 'train', path: 'balance', parse: 'text', help: 'skewed data: sampler draws classes uniformly (or ∝ frequency^p), weights scales the loss by 1/frequency (multi-label: positive weights)' },
  { flag: '--balance-power <p>', scope: 'train', path: 'balancePower', parse: 'number', help: 'sampler: class probability ∝ frequency^p (0 uniform, 1 as the data)' },
  { flag: '--seed <n>', scope: 'train', path: 'seed', parse: 'number', help: 'seed of every random choice' },
  { flag: '--train-engine <name>', scope: 'train', path: 'trainEngine', parse: 'text', help: 'what runs the training steps: onnx (ONNX Runtime, all cores), tfjs (TF.js autodiff on its backend), or auto (onnx when onnxruntime-node loads; docs/architecture.md, "Training engines")' },
  { flag: '--resume', scope: 'train', path: 'resume', parse: 'switch', help: 'continue from <out>/checkpoints/last' },
  { flag: '--no-checkpoints', scope: 'train', path: 'checkpoints', parse: 'negate', help: 'write no checkpoints (a killed run then cannot resume)' },
  { flag: '--checkpoint-every <seconds>', scope: 'train', path: 'checkpointEvery', parse: 'number', help: 'seconds between checkpoints (0: every epoch); the last epoch and the best weights are always saved' },
  { flag: '--overwrite', scope: 'train', path: 'overwrite', parse: 'switch', help: 'replace a run already in --out' },
  { flag: '--no-combined', scope: 'train', path: 'combined', parse: 'negate', help: 'skip the combined backbone+head model' },

  // compare's sweep (src/jobs/compare-options.ts)
  { flag: '--alphas <list>', scope: 'compare', path: 'alphas', parse: 'numbers', help: 'α values to compare' },
  { flag: '--seeds <n>', scope: 'compare', path: 'seeds', parse: 'number', help: 'seeds per setting; a winner is named only when its paired 95% interval against α = 0 excludes 0' },
  { flag: '--mix-ats <list>', scope: 'compare', path: 'mixAts', parse: 'list', help: 'mix points to compare' },
  { flag: '--heads <list>', scope: 'compare', path: 'heads', parse: 'list', help: 'heads to compare', default: 'the --head' },
  { flag: '--grid <key=values>', scope: 'compare', path: 'grid', parse: 'grid', help: 'repeatable: a training option and its values to cross with the settings, e.g. --grid dropout=0,0.3 --grid weight-decay=0,1e-4; each grid point gets its own no-mixing baseline', default: 'none' },
  { flag: '--no-floors', scope: 'compare', path: 'floors', parse: 'negate', help: 'skip the kNN and logistic-regression floors on pooled features' },

  // lr-find (src/jobs/lr-find-options.ts)
  { flag: '--cache <dir>', scope: 'lrFind', path: 'cache', parse: 'path', required: true, help: 'training feature cache' },
  { flag: '--head <type>', scope: 'lrFind', path: 'head', parse: 'text', help: 'head architecture' },
  { flag: '--hidden <n>', scope: 'lrFind', path: 'hidden', parse: 'number', help: 'hidden width (mlp) or channels (conv)', default: '512 (mlp), 256 (conv)' },
  { flag: '--dropout <p>', scope: 'lrFind', path: 'dropout', parse: 'number', help: 'dropout before the last layer', default: '0 (linear), 0.3 (mlp), 0.2 (conv)' },
  { flag: '--batch-size <n>', scope: 'lrFind', path: 'batchSize', parse: 'number', help: 'batch size' },
  { flag: '--optimizer <name>', scope: 'lrFind', path: 'optimizer', parse: 'text', help: 'optimizer' },
  { flag: '--rule <rule>', scope: 'lrFind', path: 'rule', parse: 'text', help: 'which point of the loss curve to suggest' },
  { flag: '--seed <n>', scope: 'lrFind', path: 'seed', parse: 'number', help: 'seed' },
  { flag: '--plot <file>', scope: 'lrFind', path: 'plot', parse: 'text', help: 'write the loss curve here as SVG' },
  { flag: '--train-engine <name>', scope: 'lrFind', path: 'trainEngine', parse: 'text', help: 'what runs the ramp\'s steps: onnx, tfjs or auto (as train)' },

  // eval and predict (src/jobs/model-options.ts)
  { flag: '--model <dir>', scope: 'eval', path: 'model', parse: 'path', required: true, help: 'folder written by mixhead train' },
  { flag: '--cache <dir>', scope: 'eval', path: 'cache', parse: 'path', required: true, help: 'feature cache to evaluate on' },
  { flag: '--tta', scope: 'eval', path: 'tta', parse: 'switch', help: 'test-time augmentation: average the probabilities over the views the cache holds (precompute --views N)' },
  { flag: '--model <dir>', scope: 'predict', path: 'model', parse: 'path', required: true, help: 'folder written by mixhead train' },
  { flag: '--top <k>', scope: 'predict', path: 'top', parse: 'number', help: 'labels to show per image' },
  { flag: '--tta', scope: 'predict', path: 'tta', parse: 'switch', help: "test-time augmentation: average over the training cache's views of each image (or the image and its mirror); costs one backbone pass per view" },

  // export --web (src/jobs/export-web.ts)
  { flag: '--model <dir>', scope: 'exportWeb', path: 'model', parse: 'path', required: true, help: 'folder written by mixhead train' },
  { flag: '--web <dir>', scope: 'exportWeb', path: 'out', parse: 'text', required: true, help: 'folder to write (serve it with any static file server)' },
  { flag: '--overwrite', scope: 'exportWeb', path: 'overwrite', parse: 'switch', help: 'replace the folder if it exists' },
];

const cliSchema = z
  .object({ json: z.boolean(), verbose: z.boolean(), config: z.string(), strict: z.boolean(), modelsDir: z.string(), engine: field.oneOf(['auto', 'onnx', 'tfjs'] as const), inspect: field.text(), size: field.positiveInt() })
  .partial()
  .strict();

/** The schema that checks each scope's flags, and the defaults shown in help. */
const SCOPES: Record<Scope, { schema: z.ZodTypeAny; defaults: Record<string, unknown> }> = {
  train: { schema: trainConfigSchema, defaults: { ...TRAIN_DEFAULTS, mixup: MIXUP_DEFAULTS } },
  compare: { schema: compareSweepSchema, defaults: COMPARE_DEFAULTS },
  precompute: { schema: precomputeOptionsSchema.partial(), defaults: PRECOMPUTE_DEFAULTS },
  eval: { schema: evalOptionsSchema.partial(), defaults: EVAL_DEFAULTS },
  predict: { schema: predictOptionsSchema.partial(), defaults: PREDICT_DEFAULTS },
  lrFind: { schema: lrFindOptionsSchema.partial(), defaults: LR_FIND_DEFAULTS },
  exportWeb: { schema: exportWebOptionsSchema.partial(), defaults: {} },
  cli: { schema: cliSchema, defaults: {} },
};

function lookup(obj: unknown, path: string): unknown {
  let v = obj;
  for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

function showDefault(v: unknown): string | undefined {
  if (v === undefined || typeof v === 'function' || typeof v === 'object' && !Array.isArray(v)) return undefined;
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** The --help text of a row: its help, the allowed values (from the schema) and the default. */
export function helpOf(row: FlagRow): string {
  const choices = choicesOf(schemaAt(SCOPES[row.scope].schema, row.path));
  const def = row.default ?? (row.parse === 'switch' || row.parse === 'negate' ? undefined : showDefault(lookup(SCOPES[row.scope].defaults, row.path)));
  return `${row.help}${choices ? ` (${choices.join(', ')})` : ''}${def !== undefined ? ` [default: ${def}]` : ''}`;
}

/** Commander's key for a row (`--no-dominant` → `dominant`, `--mix-at` → `mixAt`). */
function keyOf(row: FlagRow): string {
  return new Option(row.flag).attributeName();
}

/** The rows a command takes: whole scopes plus the named `cli` rows (by path). */
export function rowsFor(scopes: Scope[], cli: string[] = []): FlagRow[] {
  // The command's own options first, then the command line's (--json, --verbose…).
  return [...FLAGS.filter((r) => r.scope !== 'cli' && scopes.includes(r.scope)), ...FLAGS.filter((r) => r.scope === 'cli' && cli.includes(r.path))];
}

/** Adds the rows' flags to a command. */
export function addFlags(cmd: Command, rows: FlagRow[]): Command {
  for (const row of rows) {
    const opt = new Option(row.flag, helpOf(row));
    if (row.required) opt.makeOptionMandatory();
    if (row.parse === 'grid') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
  return cmd;
}

/** `--grid weight-decay=0,1e-4` → {key: 'weightDecay', values: [0, 0.0001]}; KEY a train flag or a path. */
export function parseGridItem(text: string): { key: string; values: (number | string)[] } {
  const m = /^\s*([A-Za-z][\w.-]*)\s*=\s*(.+)$/.exec(text);
  if (!m) throw new UsageError(`--grid ${text}: use KEY=V1,V2,… (for example dropout=0,0.3 or weight-decay=0,1e-4)`);
  const row = FLAGS.find((r) => r.scope === 'train' && r.flag.split(' ')[0] === `--${m[1]}`);
  const values = m[2].split(',').map((v) => v.trim()).filter(Boolean).map((v) => (Number.isNaN(Number(v)) ? v : Number(v)));
  if (!values.length) throw new UsageError(`--grid ${text}: give at least one value after =`);
  return { key: row?.path ?? m[1], values };
}

function convert(row: FlagRow, raw: unknown): { value: unknown; items?: string[] } {
  if (row.parse === 'grid') return { value: (raw as string[]).map(parseGridItem) };
  const text = String(raw);
  const items = () => text.split(',').map((s) => s.trim()).filter(Boolean);
  switch (row.parse) {
    case 'number': {
      const n = text.trim() === '' ? NaN : Number(text);
      return { value: Number.isNaN(n) && /^[a-z][a-z-]*$/i.test(text.trim()) ? text.trim() : n };
    }
    case 'list':
      return { value: items(), items: items() };
    case 'numbers':
      return { value: items().map((t) => (t === '' ? NaN : Number(t))), items: items() };
    case 'shard':
      return { value: shardOfText(text) ?? text };
    case 'switch':
      return { value: raw === true };
    default:
      return { value: text };
  }
}

function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[keys[keys.length - 1]] = value;
}

/** A path named on the command line that must exist; the one rule for every command: exit 2. */
export async function mustExist(name: string, p: string): Promise<void> {
  await fs.access(p).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${name ? `${name} ` : ''}${p}: ${err.code === 'ENOENT' ? 'no such file or directory' : `cannot read (${err.code})`}`);
  });
}

/**
 * The values of one scope's flags as its options object, checked by its schema: a bad value is a
 * UsageError naming the flag, the text given and what is allowed (`--alpha -1: use a number ≥ 0`).
 * Flags not given are absent (so a config file or the library's default applies).
 */
export async function scopeValues(scope: Scope, rows: FlagRow[], opts: Record<string, unknown>): Promise<Record<string, unknown>> {
  const value: Record<string, unknown> = {};
  const given: { row: FlagRow; raw: string; items?: string[] }[] = [];
  for (const row of rows) {
    if (row.scope !== scope) continue;
    const raw = opts[keyOf(row)];
    if (raw === undefined) continue;
    if (row.parse === 'negate') {
      // commander sets `--no-x` options to true when absent: only an explicit "no" counts.
      if (raw === false) setAt(value, row.path, false);
      continue;
    }
    const c = convert(row, raw);
    setAt(value, row.path, c.value);
    given.push({ row, raw: String(raw), items: c.items });
  }
  const flagName = (row: FlagRow) => row.flag.split(' ')[0];
  parseOptions(
    SCOPES[scope].schema,
    value,
    {
      name: (path) => {
        const dotted = path.join('.');
        const hit = given.find((g) => dotted === g.row.path || dotted.startsWith(`${g.row.path}.`));
        if (!hit) return undefined;
        const rest = path.slice(hit.row.path.split('.').length);
        const shownText = hit.items && typeof rest[0] === 'number' ? hit.items[rest[0]] : hit.raw;
        return `${flagName(hit.row)} ${shownText}`;
      },
    },
    UsageError,
  );
  for (const g of given) if (g.row.parse === 'path') await mustExist(flagName(g.row), g.raw);
  return defined(value);
}

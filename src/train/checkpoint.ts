/**
 * Training checkpoints: the head's weights, the optimizer's state and the loop's state, written so
 * that a kill at any moment leaves either the previous checkpoint or the new one, whole.
 *
 * A checkpoint is a folder (`weights.bin` + `state.json`). It is written under a temporary name and
 * swapped in by renames: `last` → `last.old`, `tmp` → `last`, then `last.old` removed. A reader
 * takes `last`, or `last.old` when a crash fell between the two renames. `state.json` carries the
 * byte length and sha256 of `weights.bin`, so a torn file is detected rather than loaded.
 *
 * The two files inside the temporary folder are written plainly, not fsynced one by one: the folder's
 * rename is the atomic step, and a killed process loses nothing the kernel already holds. (The
 * per-file fsyncs never made a save durable against a power loss either: the renames were not
 * synced. After one, the sha256 check turns a torn save into "no checkpoint".) Waiting on those
 * fsyncs was ~1.6 s of idle main thread in a default mlp run of 63 epochs.
 *
 * Two repairs at the start of every save keep this true across repeated crashes:
 * - when a crash left only `last.old`, it is renamed back to `last` before anything is removed (the
 *   next save would otherwise delete the only whole checkpoint before its own was in place);
 * - temporary folders of processes that are gone (`last.tmp-<pid>`, left by a kill) are removed, so
 *   a job killed and resumed many times does not pile up copies of the weights.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from '../base/process.js';
import '../tfjs/banner.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** Byte offset in weights.bin (float32). */
  offset: number;
}

export interface CheckpointFile<S> {
  state: S;
  model: TensorSpec[];
  optimizer: TensorSpec[];
  bytes: number;
  sha256: string;
}

/** One array of a checkpoint: a weight or an optimizer slot, by name. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

function pack(arrays: NamedArray[], start: number, chunks: Float32Array[]): { specs: TensorSpec[]; end: number } {
  let offset = start;
  const specs: TensorSpec[] = [];
  for (const { name, shape, data } of arrays) {
    chunks.push(data);
    specs.push({ name, shape, offset });
    offset += data.length * 4;
  }
  return { specs, end: offset };
}

/** Writes `dir/<name>` atomically (see the module comment) from TF.js variables and optimizer. */
export async function saveCheckpoint<S>(
  dir: string,
  name: string,
  state: S,
  modelWeights: tf.LayerVariable[],
  optimizer: tf.Optimizer | null,
): Promise<void> {
  // Everything is stored as float32: the optimizer's step count comes as an int32 scalar.
  const floats = (t: tf.Tensor) => {
    const d = t.dataSync();
    return d instanceof Float32Array ? d : Float32Array.from(d as Int32Array);
  };
  const model = modelWeights.map((w) => ({ name: w.name, shape: w.shape as number[], data: floats(w.read()) }));
  const optWeights = optimizer ? await optimizer.getWeights() : [];
  const opt = optWeights.map(({ name, tensor }) => ({ name, shape: tensor.shape, data: floats(tensor) }));
  // getWeights() makes a fresh scalar for the step count; the rest are the optimizer's own variables.
  tf.dispose(optWeights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  await saveCheckpointArrays(dir, name, state, model, opt);
}

/** Writes `dir/<name>` atomically (see the module comment) from host arrays (copied before the first await). */
export async function saveCheckpointArrays<S>(dir: string, name: string, state: S, model: NamedArray[], optimizer: NamedArray[]): Promise<void> {
  const chunks: Float32Array[] = [];
  const m = pack(model, 0, chunks);
  const opt = pack(optimizer, m.end, chunks);
  const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
  const file: CheckpointFile<S> = {
    state,
    model: m.specs,
    optimizer: opt.specs,
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  const final = path.join(dir, name);
  const tmp = `${final}.tmp-${process.pid}`;
  const old = `${final}.old`;
  await repair(dir, name);
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  await fs.writeFile(path.join(tmp, 'weights.bin'), bytes);
  await fs.writeFile(path.join(tmp, 'state.json'), JSON.stringify(file, keepNonFinite));
  await fs.rm(old, { recursive: true, force: true });
  await fs.rename(final, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await fs.rename(tmp, final);
  await fs.rm(old, { recursive: true, force: true });
}

/** JSON has no NaN or ±Infinity (stringify writes null): they are written as {"$number": "NaN"}. */
function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? { $number: String(value) } : value;
}

function restoreNonFinite(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const n = (value as { $number?: unknown }).$number;
    if (keys.length === 1 && (n === 'NaN' || n === 'Infinity' || n === '-Infinity')) return Number(n);
  }
  return value;
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

/** Puts a crash's leftovers right: `name.old` back as `name` when `name` is gone; dead writers' temporaries removed. */
async function repair(dir: string, name: string): Promise<void> {
  const final = path.join(dir, name);
  const old = `${final}.old`;
  if (!(await exists(final)) && (await exists(old))) await fs.rename(old, final);
  const prefix = `${name}.tmp-`;
  for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isProcessAlive(pid)) await fs.rm(path.join(dir, entry), { recursive: true, force: true });
  }
}

export interface LoadedCheckpoint<S> {
  state: S;
  /** Restores the weights into these variables (matched by position, checked by shape). */
  restore(modelWeights: tf.LayerVariable[], optimizer: tf.Optimizer | null): Promise<void>;
}

async function readOne<S>(folder: string): Promise<LoadedCheckpoint<S> | undefined> {
  let file: CheckpointFile<S>;
  let bytes: Buffer;
  try {
    file = JSON.parse(await fs.readFile(path.join(folder, 'state.json'), 'utf8'), restoreNonFinite);
    bytes = await fs.readFile(path.join(folder, 'weights.bin'));
  } catch {
    return undefined;
  }
  if (bytes.byteLength !== file.bytes || createHash('sha256').update(bytes).digest('hex') !== file.sha256) return undefined;
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const slice = (s: TensorSpec) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return tf.tensor(floats.subarray(s.offset / 4, s.offset / 4 + n), s.shape);
  };
  return {
    state: file.state,
    restore: async (modelWeights, optimizer) => {
      if (modelWeights.length !== file.model.length) {
        throw new Error(`${folder}: checkpoint holds ${file.model.length} weights, the head has ${modelWeights.length} (another head type or size?)`);
      }
      modelWeights.forEach((w, i) => {
        const spec = file.model[i];
        if (JSON.stringify(w.shape) !== JSON.stringify(spec.shape)) {
          throw new Error(`${folder}: weight ${spec.name} has shape [${spec.shape}] but the head needs [${w.shape}]`);
        }
        const t = slice(spec);
        w.write(t);
        t.dispose();
      });
      if (optimizer && file.optimizer.length) {
        const named = file.optimizer.map((s) => ({ name: s.name, tensor: slice(s) }));
        await optimizer.setWeights(named);
        // setWeights keeps variables made from these tensors; the tensors themselves are ours to free.
        tf.dispose(named.map((n) => n.tensor));
      }
    },
  };
}

/** The newest whole checkpoint `name` in `dir`, or undefined when there is none. */
export async function loadCheckpoint<S>(dir: string, name: string): Promise<LoadedCheckpoint<S> | undefined> {
  const final = path.join(dir, name);
  return (await readOne<S>(final)) ?? (await readOne<S>(`${final}.old`));
}

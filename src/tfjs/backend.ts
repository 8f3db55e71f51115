/**
 * Picks the TF.js backend: `tensorflow` (tfjs-node-gpu, then tfjs-node) → `wasm` → `cpu`.
 *
 * The native packages are optionalDependencies: their install script downloads libtensorflow and
 * fails on a machine without internet, so they are often absent. `MIXHEAD_BACKEND` forces one
 * backend; a forced backend that cannot start is an error. An absent optional package is only
 * mentioned with `verbose` (the CLI's --verbose): most users never installed one and need not hear
 * about it; a native package that is installed but fails to start is always said.
 */
import * as tf from '@tensorflow/tfjs';
import { installFastTransposedMatMul } from './wasm-matmul.js';
import './banner.js';


export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The TF.js backend that runs (`tf.getBackend()`). */
  name: BackendName;
  /** The npm package that provided it. */
  package: string;
  /** What the native backend says it runs on (GPU or CPU), when it is `tensorflow`. */
  device?: string;
  /** One line per backend that was tried and skipped, with the reason. */
  notices: string[];
}

export interface SelectBackendArgs {
  /** Force one backend; defaults to `process.env.MIXHEAD_BACKEND`, else automatic. */
  force?: string;
  /** Where notices go; defaults to nothing (they are returned in `notices`). */
  log?: (line: string) => void;
  /** Also log the optional packages that are not installed (default: only backends that failed). */
  verbose?: boolean;
}

/** Notices about optional packages that are simply not installed: logged only when verbose. */
const absentNotices = new Set<string>();

let selected: BackendInfo | undefined;
let selectedFor: string | undefined;

/** The backend chosen by the last `selectBackend` call, if any. */
export function currentBackend(): BackendInfo | undefined {
  return selected;
}

/** A short human line naming the backend, for reports and command output. */
export function describeBackend(info: BackendInfo): string {
  return `backend: ${info.name} (${info.package}${info.device ? `, ${info.device}` : ''})`;
}

async function tryTensorflow(notices: string[]): Promise<BackendInfo | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
    } catch (err) {
      const n = `${pkg} not available (${firstLine(err)})`;
      absentNotices.add(n);
      notices.push(n);
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      return { name: 'tensorflow', package: pkg, device: nativeDevice(pkg), notices };
    }
    notices.push(`${pkg} loaded but the tensorflow backend did not start`);
  }
  return undefined;
}

/**
 * tfjs-node-gpu falls back to the CPU silently when cuDNN or the CUDA runtime is missing
 * (tfjs #8269), so ask TensorFlow which devices it registered instead of trusting the package name.
 */
function nativeDevice(pkg: string): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const backend = tf.backend() as any;
    const binding = backend?.binding;
    const gpu = typeof binding?.isUsingGpuDevice === 'function' ? binding.isUsingGpuDevice() : undefined;
    if (gpu === true) return 'GPU';
    if (gpu === false) return pkg.endsWith('-gpu') ? 'CPU (no usable GPU: check CUDA 11.2 / cuDNN 8.1)' : 'CPU';
  } catch {
    /* fall through */
  }
  return pkg.endsWith('-gpu') ? 'device unknown' : 'CPU';
}

async function tryWasm(notices: string[]): Promise<BackendInfo | undefined> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      installFastTransposedMatMul();
      return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', notices };
    }
    notices.push('wasm backend did not start');
  } catch (err) {
    notices.push(`@tensorflow/tfjs-backend-wasm not available (${firstLine(err)})`);
  }
  return undefined;
}

async function tryCpu(notices: string[]): Promise<BackendInfo | undefined> {
  if (await tf.setBackend('cpu')) {
    await tf.ready();
    return { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', notices };
  }
  notices.push('cpu backend did not start');
  return undefined;
}

const TRY: Record<BackendName, (n: string[]) => Promise<BackendInfo | undefined>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

/**
 * Selects and initialises a backend. Idempotent for the same request; a different `force` switches.
 * @throws if a forced backend is unknown or cannot start.
 */
export async function selectBackend(args: SelectBackendArgs = {}): Promise<BackendInfo> {
  const force = (args.force ?? process.env.MIXHEAD_BACKEND ?? '').trim();
  if (selected && selectedFor === force && tf.getBackend() === selected.name) return selected;
  const notices: string[] = [];
  let info: BackendInfo | undefined;
  if (force) {
    if (!(BACKEND_NAMES as readonly string[]).includes(force)) {
      throw new Error(`MIXHEAD_BACKEND=${force} is not a backend; use one of ${BACKEND_NAMES.join(', ')}`);
    }
    info = await TRY[force as BackendName](notices);
    if (!info) throw new Error(`backend ${force} was requested but could not start: ${notices.join('; ')}`);
  } else {
    for (const name of BACKEND_NAMES) {
      info = await TRY[name](notices);
      if (info) break;
    }
    if (!info) throw new Error(`no TF.js backend could start: ${notices.join('; ')}`);
  }
  for (const n of info.notices) if (args.verbose || !absentNotices.has(n)) args.log?.(`notice: ${n}`);
  selected = info;
  selectedFor = force;
  return info;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 200);
}

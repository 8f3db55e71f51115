/**
 * Downloads a TF.js model (model.json + the weight shards it names) once into `models/<id>/`,
 * then everything loads from disk offline.
 *
 * Integrity: shards are checked against the byte count the manifest implies (and any
 * Content-Length), a `download.json` records each file's sha256, and every later load re-checks
 * those hashes, so a truncated or altered file is found rather than fed to the model. Files land in
 * `models/<id>.partial/` and the folder is renamed into place only when complete, so an interrupted
 * download leaves nothing that looks available; the next call starts it again.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { MODEL_JSON, expectedWeightBytes } from './io.js';
import { writeFileAtomic } from '../base/fs.js';

export const DOWNLOAD_RECORD = 'download.json';

export interface DownloadRecord {
  id: string;
  url: string;
  files: { name: string; bytes: number; sha256: string }[];
  downloadedAt: string;
}

export interface DownloadArgs {
  id: string;
  /** URL of model.json (a TF Hub model page URL is accepted: `?tfjs-format=file` is added). */
  url: string;
  /** Folder holding one subfolder per model id. */
  modelsDir: string;
  /** Called with bytes received so far and the total when known. */
  onProgress?: (received: number, total: number | undefined) => void;
  /** fetch to use (tests inject one); defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

/** model.json URL and the query to repeat on shard URLs (TF Hub wants `?tfjs-format=file` on both). */
export function resolveModelUrl(url: string): { modelUrl: string; query: string } {
  if (/tfhub\.dev|kaggle\.com/.test(url) && !url.includes('tfjs-format=file')) {
    const base = url.replace(/\/+$/, '');
    return { modelUrl: `${base}/model.json?tfjs-format=file`, query: '?tfjs-format=file' };
  }
  const q = url.indexOf('?');
  return { modelUrl: url, query: q >= 0 ? url.slice(q) : '' };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function fetchBytes(fetchImpl: typeof fetch, url: string, onChunk: (n: number) => void): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetchImpl(url);
  } catch (err) {
    throw new Error(`download of ${url} failed: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`);
  }
  if (!res.ok) throw new Error(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
      onChunk(value.byteLength);
    }
  } catch (err) {
    throw new Error(`download of ${url} was interrupted after ${total} bytes: ${(err as Error).message}`);
  }
  if (Number.isFinite(declared) && total !== declared) {
    throw new Error(`download of ${url} was cut short: ${total} of ${declared} bytes`);
  }
  return Buffer.concat(chunks);
}

/** Downloads the model unless `modelsDir/<id>/` already holds a verified copy. Returns its folder. */
export async function downloadModel(args: DownloadArgs): Promise<string> {
  const dest = path.join(args.modelsDir, args.id);
  if (await isDownloaded(dest)) {
    await verifyDownload(dest);
    return dest;
  }
  const fetchImpl = args.fetchImpl ?? fetch;
  const partial = `${dest}.partial`;
  await fs.rm(partial, { recursive: true, force: true });
  await fs.mkdir(partial, { recursive: true });
  const { modelUrl, query } = resolveModelUrl(args.url);
  let received = 0;
  const progress = (n: number) => {
    received += n;
    args.onProgress?.(received, undefined);
  };
  const files: DownloadRecord['files'] = [];
  const jsonBytes = await fetchBytes(fetchImpl, modelUrl, progress);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(Buffer.from(jsonBytes).toString('utf8'));
  } catch {
    throw new Error(`${modelUrl} did not return a model.json (not JSON)`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${modelUrl} did not return a TF.js model.json (no modelTopology / weightsManifest)`);
  }
  const base = new URL('.', modelUrl.split('?')[0]);
  let shardBytes = 0;
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const name = path.basename(decodeURIComponent(p));
      const bytes = await fetchBytes(fetchImpl, new URL(p, base).toString() + query, progress);
      shardBytes += bytes.byteLength;
      await fs.writeFile(path.join(partial, name), bytes);
      files.push({ name, bytes: bytes.byteLength, sha256: sha256(bytes) });
    }
    // Shards are stored flat, so the manifest must point at the flat names.
    group.paths = group.paths.map((p) => `./${path.basename(decodeURIComponent(p))}`);
  }
  const want = expectedWeightBytes(json.weightsManifest);
  if (want > 0 && shardBytes !== want) {
    throw new Error(`${modelUrl}: shards hold ${shardBytes} bytes but the manifest needs ${want}`);
  }
  const jsonOut = Buffer.from(JSON.stringify(json));
  await fs.writeFile(path.join(partial, MODEL_JSON), jsonOut);
  files.push({ name: MODEL_JSON, bytes: jsonOut.byteLength, sha256: sha256(jsonOut) });
  const record: DownloadRecord = { id: args.id, url: args.url, files, downloadedAt: new Date().toISOString() };
  await writeFileAtomic(path.join(partial, DOWNLOAD_RECORD), JSON.stringify(record, null, 2));
  await fs.rm(dest, { recursive: true, force: true });
  await fs.rename(partial, dest);
  return dest;
}

/** True when `dir` holds a model.json (downloaded, or dropped in by hand). */
export async function isDownloaded(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, MODEL_JSON));
    return true;
  } catch {
    return false;
  }
}

/**
 * Re-checks each file's sha256 against `download.json`. A folder without one (a model copied in by
 * hand) is trusted as it is.
 */
export async function verifyDownload(dir: string): Promise<void> {
  let record: DownloadRecord;
  try {
    record = JSON.parse(await fs.readFile(path.join(dir, DOWNLOAD_RECORD), 'utf8'));
  } catch {
    return;
  }
  for (const f of record.files) {
    const file = path.join(dir, f.name);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch {
      throw new Error(`${file}: missing from the downloaded model; delete ${dir} to download it again`);
    }
    if (bytes.byteLength !== f.bytes || sha256(bytes) !== f.sha256) {
      throw new Error(`${file}: does not match its recorded sha256 (corrupt or altered); delete ${dir} to download it again`);
    }
  }
}

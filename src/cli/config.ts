/**
 * `--config run.json`: the same options as the train flags, parsed with the train options schema
 * (src/train/options.ts, `trainConfigSchema`), so a value is accepted or refused exactly as a flag
 * or a library call would be; a bad one gets one line naming the file, the field, the value and
 * what is allowed.
 */
import { promises as fs } from 'node:fs';
import { UsageError } from '../base/errors.js';
import { parseOptions } from '../base/options.js';
import { trainConfigSchema, type TrainConfig } from '../jobs/train-options.js';

export { UsageError, trainConfigSchema, type TrainConfig };

/** Parses a config object; `file` names it in messages (`run.json: mixup.alpha = -1: use a number ≥ 0`). */
export function parseTrainConfig(value: unknown, file = 'config'): TrainConfig {
  return parseOptions(trainConfigSchema, value, { prefix: `${file}: ` }, UsageError);
}

export async function loadConfig(file: string): Promise<TrainConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot read (${code ?? (err as Error).message})`}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseTrainConfig(value, file);
}

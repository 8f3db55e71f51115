import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFashionSample } from '../../src/data/fashion.js';
import { nativePresent } from '../native.js';

const run = promisify(execFile);
const CLI = path.resolve('dist/src/cli/main.js');
let dir = '';

/** Runs the built CLI; resolves with exit code, stdout and stderr (never rejects). */
async function mixhead(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, MIXHEAD_BACKEND: 'wasm' }, maxBuffer: 1 << 26 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  // The suite runs against the build (npm ci runs `prepare`); build it when missing.
  await access(CLI).catch(() => run(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']));
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-cli-'));
  await writeFashionSample({ out: path.join(dir, 'train'), perClass: 2, split: 'train' });
  await writeFashionSample({ out: path.join(dir, 'test'), perClass: 1, split: 'test' });
}, 180_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the mixhead command', () => {
  it.each(
    ['', 'backbones', 'precompute', 'inspect', 'cache merge', 'cache export', 'train', 'eval', 'predict', 'compare'].map((name) => [`mixhead ${name}`.trim(), name ? name.split(' ') : []] as const),
  )('%s --help shows usage and an example', async (_name, cmd) => {
    const r = await mixhead(...(cmd as string[]), '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: mixhead/);
    if (cmd.length) expect(r.stdout).toMatch(/Example:\n\s+mixhead /);
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(path.resolve('package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await mixhead(flag);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it.skipIf(nativePresent)('names the optional backends that are not installed only under --verbose', async () => {
    // Automatic choice (no MIXHEAD_BACKEND): tfjs-node-gpu and tfjs-node are tried first. An empty
    // folder passes the path rule, so the backend is chosen before eval fails on it.
    const auto = async (...args: string[]) => {
      const env = { ...process.env };
      delete env.MIXHEAD_BACKEND;
      return run(process.execPath, [CLI, ...args], { env }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    };
    const quiet = await auto('eval', '--model', dir, '--cache', dir);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toMatch(/backend: /);
    expect(quiet.stderr).not.toMatch(/notice:/);
    const loud = await auto('eval', '--model', dir, '--cache', dir, '--verbose');
    expect(loud.stderr).toMatch(/^notice: @tensorflow\/tfjs-node not available/m);
  });

  it('precompute → inspect → train → eval → predict on a handful of images', async () => {
    const train = path.join(dir, 'cache-train');
    const test = path.join(dir, 'cache-test');
    const out = path.join(dir, 'run');
    let r = await mixhead('precompute', '--data', path.join(dir, 'train'), '--cache', train, '--workers', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 20, computed: 20, backend: 'wasm' });
    r = await mixhead('precompute', '--data', path.join(dir, 'test'), '--cache', test, '--workers', '1', '--dtype', 'float16');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backend: wasm/);
    // Nobody asked for a native backend: no word about the missing ones, and no TF.js banner.
    expect(r.stderr).not.toMatch(/notice:|not available|looks like you are running TensorFlow/);

    r = await mixhead('inspect', train, '--json');
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 20, featureShape: [7, 7, 1280], dtype: 'float16' });

    await writeFile(path.join(dir, 'run.json'), JSON.stringify({ head: 'mlp', hidden: 32, mixup: { alpha: 0.4 } }));
    r = await mixhead('train', '--cache', train, '--valid', test, '--out', out, '--config', path.join(dir, 'run.json'), '--epochs', '2', '--batch-size', '8', '--overwrite', '--json');
    expect(r.code, r.stderr).toBe(0);
    const trained = JSON.parse(r.stdout);
    expect(trained.bestEpoch).toBeGreaterThan(0);
    expect(trained.measuredOn).toBe('validation');
    await access(path.join(out, 'combined', 'model.json'));
    await access(path.join(out, 'report.html'));

    // A second train into the same folder is refused unless --overwrite (or --resume).
    const again = ['train', '--cache', train, '--valid', test, '--out', out, '--epochs', '1', '--batch-size', '8', '--no-combined', '--json'];
    r = await mixhead(...again);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mixhead: .*holds a run already .*--overwrite/);
    expect(JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')).history).toHaveLength(2);
    r = await mixhead(...again, '--overwrite', '--train-engine', 'tfjs');
    expect(r.code, r.stderr).toBe(0);
    // The engine asked for trains, and the output, report.json and meta.json name it.
    expect(JSON.parse(r.stdout).trainEngine).toMatch(/^tfjs \(/);
    expect(JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')).history).toHaveLength(1);
    expect(JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')).trainEngine).toMatch(/^tfjs/);
    expect(JSON.parse(await readFile(path.join(out, 'meta.json'), 'utf8')).training).toMatchObject({ engine: expect.stringMatching(/^tfjs/), options: { trainEngine: 'tfjs' } });
    r = await mixhead('train', '--cache', train, '--valid', test, '--out', out, '--config', path.join(dir, 'run.json'), '--epochs', '2', '--batch-size', '8', '--overwrite', '--json');
    expect(r.code, r.stderr).toBe(0);

    // Without a validation set the figures are the training set's, and the summary says so.
    r = await mixhead('train', '--cache', train, '--out', path.join(dir, 'no-valid'), '--epochs', '1', '--batch-size', '8', '--no-combined');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^best epoch 1 of 1 .*\n\(measured on the training set: no validation set was given; pass --valid/m);

    r = await mixhead('eval', '--model', out, '--cache', test, '--json');
    expect(r.code, r.stderr).toBe(0);
    const ev = JSON.parse(r.stdout);
    expect(ev.size).toBe(10);
    // eval on the validation cache reproduces the number train reported for the exported head.
    expect(ev.metrics.accuracy).toBeCloseTo(trained.metrics.accuracy, 6);

    const img = path.join(dir, 'test', 'bag', '8_6999.png');
    const notImage = path.join(dir, 'notes.txt');
    // Text that looks like XML: sharp hands it to libvips' SVG loader, whose parser errors are internals.
    await writeFile(notImage, '<svg xmlns="http://www.w3.org/2000/svg"><rect');
    r = await mixhead('predict', '--model', out, img, notImage, '--top', '3', '--json');
    expect(r.code, r.stderr).toBe(0);
    const preds = JSON.parse(r.stdout);
    expect(preds[0].top).toHaveLength(3);
    expect(preds[0].top[0].probability).toBeGreaterThanOrEqual(preds[0].top[1].probability);
    // The plain reason, as precompute gives it; never libvips' internals.
    expect(preds[1].error).toMatch(/^not an image/);
    expect(`${preds[1].error}\n${r.stderr}`).not.toMatch(/glib|XML parse|vips/i);

    // A missing image is a missing path: exit 2 before any work, as in every command.
    r = await mixhead('predict', '--model', out, img, path.join(dir, 'missing.png'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.png: no such file or directory/);
  });

  it('bad flags and config values exit 2 with one line naming the value', async () => {
    const cfg = path.join(dir, 'bad.json');
    await writeFile(cfg, JSON.stringify({ batchSize: 0 }));
    for (const args of [
      ['train', '--cache', dir, '--out', dir, '--alpha', '-1'],
      ['train', '--cache', dir, '--out', dir, '--head', 'resnet'],
      ['train', '--cache', dir, '--out', dir, '--config', cfg],
      ['precompute', '--data', dir, '--cache', dir, '--shard', '3/2'],
    ]) {
      const r = await mixhead(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^mixhead: .*(-1|resnet|batchSize = 0|3\/2)/);
    }
  });
});

/**
 * `export --web` for an ONNX backbone (a PyTorch export): the folder runs the cut backbone on
 * onnxruntime-web (its WebAssembly files shipped in the folder) and the head on TF.js, in headless
 * Chromium; on photo-sized images its probabilities agree with `mixhead predict` within 2e-3.
 * Skipped, with the reason, where there is no Chromium (as test/web/browser.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { precompute } from '../../src/jobs/precompute.js';
import { runTrain } from '../../src/jobs/train.js';
import { runPredict } from '../../src/jobs/predict.js';
import { exportWeb, webModuleDir, WEB_MODULES, ORT_WEB_FILES } from '../../src/jobs/export-web.js';
import { tempDir } from '../tmp.js';
import { SCENE_CLASSES, scene, sceneJpeg } from './scenes.js';

const CHROMIUM = process.env.MIXHEAD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) process.stderr.write(`test/web/onnx-browser.test.ts: skipped: no Chromium at ${CHROMIUM}\n`);
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const RESNET = path.resolve('test/fixtures/onnx/tiny-resnet.onnx');
const CUT = '/layer2/relu_1/Relu';
const IMAGES = ['photo.jpg', 'alpha.png', 'rotated.jpg'];

let dir = '';
let server: http.Server | undefined;
let base = '';
let browser: Browser | undefined;
let page: Page;
let node: number[][] = [];

describe.skipIf(!haveChromium)('an ONNX backbone exported for the web, in headless Chromium', { timeout: 300_000 }, () => {
  beforeAll(async () => {
    const web = webModuleDir();
    const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
    for (const m of WEB_MODULES) {
      const ts = m.replace(/\.js$/, '.ts');
      if (statSync(path.join(web, m)).mtimeMs < statSync(path.join(src, ts)).mtimeMs) throw new Error(`${web}/${m} is older than src/${ts}: run npm run build`);
    }
    dir = await tempDir('onnx-web');
    // 18 scenes in three colour classes, at 400×300 (cover-resized to the model's 64 px).
    const data = path.join(dir, 'data');
    for (let i = 0; i < 18; i++) {
      const cls = SCENE_CLASSES[i % 3];
      await mkdir(path.join(data, cls), { recursive: true });
      await writeFile(path.join(data, cls, `s${i}.jpg`), await sceneJpeg(i, 400, 300, i % 3));
    }
    await writeFile(path.join(dir, 'photo.jpg'), await sceneJpeg(101, 1280, 960, 0));
    const a = scene(102, 1200, 900, 1, true);
    await writeFile(path.join(dir, 'alpha.png'), await sharp(a.data, { raw: { width: 1200, height: 900, channels: 4 } }).png().toBuffer());
    const r = scene(103, 1280, 960, 2);
    await writeFile(path.join(dir, 'rotated.jpg'), await sharp(r.data, { raw: { width: 1280, height: 960, channels: 3 } }).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toBuffer());
    const cache = path.join(dir, 'cache');
    await precompute({ data, cache, backbone: { backbone: RESNET, node: CUT, preprocess: { normalize: 'imagenet' } }, dtype: 'float32', progress: false });
    const model = path.join(dir, 'model');
    await runTrain({ cache, out: model, head: 'linear', epochs: 40, lr: 0.05, batchSize: 6, seed: 3 });
    await exportWeb({ model, out: path.join(dir, 'site') });
    const preds = await runPredict({ model, images: IMAGES.map((f) => path.join(dir, f)), top: 3 });
    node = preds.map((p) => SCENE_CLASSES.map((c) => p.top.find((t) => t.label === c)!.probability));
    server = http.createServer(async (req, res) => {
      const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = url.startsWith('/img/') ? path.join(dir, url.slice(5)) : path.join(dir, 'site', url);
      try {
        const body = await readFile(file);
        const type = /\.m?js$/.test(file) ? 'text/javascript' : file.endsWith('.html') ? 'text/html' : file.endsWith('.json') ? 'application/json' : file.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      } catch {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/index.html`);
    await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: 120_000 });
    if ((await page.evaluate(() => document.body.dataset.ready)) !== 'yes') throw new Error(`the page did not load: ${await page.textContent('#status')} ${errors.join('; ')}`);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (server) await new Promise<void>((r) => server!.close(() => r()));
  });

  it('writes the cut backbone, the head, onnxruntime-web and an import map naming them (no CDN)', async () => {
    const site = path.join(dir, 'site');
    for (const f of ['index.html', 'backbone.onnx', 'head/model.json', 'web/onnx-browser.js', 'tfjs/tf.fesm.min.js', ...ORT_WEB_FILES.map((f) => `ort/${f}`)]) expect(existsSync(path.join(site, f)), f).toBe(true);
    expect(existsSync(path.join(site, 'model'))).toBe(false);
    const html = await readFile(path.join(site, 'index.html'), 'utf8');
    expect(html).toContain('"onnxruntime-web": "./ort/ort.wasm.min.mjs"');
    expect(html).not.toMatch(/https?:\/\//);
    const meta = JSON.parse(await readFile(path.join(site, 'meta.json'), 'utf8'));
    expect(meta.backbone).toMatchObject({ kind: 'onnx', id: 'onnx:tiny-resnet.onnx' });
    expect(meta.preprocess).toMatchObject({ size: 64, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(meta).not.toHaveProperty('training');
  });

  it('agrees with mixhead predict within 2e-3 on photo-sized images', async () => {
    let worst = 0;
    const report: string[] = [];
    for (const [k, name] of IMAGES.entries()) {
      const got = (await page.evaluate(`(async () => {
        const blob = await (await fetch(${JSON.stringify(`/img/${name}`)})).blob();
        return await window.mixhead.classify(blob);
      })()`)) as { label: string; probability: number }[];
      const p = SCENE_CLASSES.map((c) => got.find((t) => t.label === c)!.probability);
      const d = Math.max(...p.map((v, c) => Math.abs(v - node[k][c])));
      worst = Math.max(worst, d);
      report.push(`${name}: max |Δp| ${d.toExponential(2)}, predict ${node[k].map((v) => v.toFixed(4)).join('/')}`);
      expect(d, report.at(-1)).toBeLessThanOrEqual(2e-3);
    }
    process.stderr.write(`onnxruntime-web + TF.js vs predict:\n  ${report.join('\n  ')}\n`);
    // The head must respond to the images, or agreement would prove nothing.
    expect(Math.max(...node.flat()) - Math.min(...node.flat())).toBeGreaterThan(0.15);
  });
});

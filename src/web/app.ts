/**
 * The page `mixhead export --web` writes: drop (or pick) an image, see the model's top classes.
 * `?backend=cpu` (or wasm/webgl) picks the TF.js backend; `?tta=1` averages each image with its
 * mirror (test-time augmentation); `window.mixhead` exposes the loaded model and
 * `classify(blob, {tta})` for scripts and tests.
 */
import * as tf from '@tensorflow/tfjs';
import { classify, loadMeta, loadModel } from './browser.js';

const status = document.getElementById('status') as HTMLElement;
const result = document.getElementById('result') as HTMLElement;
const drop = document.getElementById('drop') as HTMLElement;
const input = document.getElementById('file') as HTMLInputElement;
const preview = document.getElementById('preview') as HTMLImageElement;

try {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('backend');
  const tta = params.get('tta') === '1';
  if (wanted && !(await tf.setBackend(wanted))) throw new Error(`TF.js backend '${wanted}' is not available here`);
  await tf.ready();
  const meta = await loadMeta('.');
  let run: (blob: Blob, options?: { tta?: boolean }) => Promise<{ label: string; probability: number }[]>;
  if (meta.backbone?.kind === 'onnx') {
    // An ONNX backbone: onnxruntime-web runs it, TF.js the head (loaded only for such folders).
    if (tta) throw new Error('?tta=1 is not available for an ONNX backbone in the browser yet; mixhead predict --tta is');
    const onnx = await import('./onnx-browser.js');
    const model = await onnx.loadOnnxModel('.', meta);
    run = (blob) => onnx.classifyOnnx(model, meta, blob);
    Object.assign(window, { mixhead: { tf, model, meta, classify: run } });
    status.textContent = `${meta.classes.length} classes, backbone on onnxruntime-web, head on TF.js ${tf.getBackend()}: drop an image`;
  } else {
    const { model } = await loadModel('.');
    run = (blob, options = { tta }) => classify(model, meta, blob, options);
    Object.assign(window, { mixhead: { tf, model, meta, classify: run } });
    status.textContent = `${meta.classes.length} classes, TF.js ${tf.getBackend()} backend: drop an image`;
  }

  const show = async (file: File) => {
    preview.src = URL.createObjectURL(file);
    result.dataset.state = 'busy';
    result.textContent = 'classifying…';
    try {
      const top = (await run(file)).slice(0, 5);
      result.replaceChildren(
        ...top.map((t) => Object.assign(document.createElement('li'), { textContent: `${t.label} ${(100 * t.probability).toFixed(1)}%` })),
      );
      result.dataset.top = top[0]?.label ?? '';
      result.dataset.state = 'done';
    } catch (err) {
      result.textContent = `${file.name}: ${(err as Error).message}`;
      result.dataset.state = 'error';
    }
  };
  input.addEventListener('change', () => input.files?.[0] && void show(input.files[0]));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void show(file);
  });
  document.body.dataset.ready = 'yes';
} catch (err) {
  status.textContent = `could not load the model: ${(err as Error).message}`;
  document.body.dataset.ready = 'error';
}

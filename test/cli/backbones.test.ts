/**
 * `mixhead backbones`: says plainly what the bundled backbone is, and `--inspect` lists an ONNX
 * model's cut points.
 */
import { describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import { main } from '../../src/cli/main.js';

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stderr = '';
  let stdout = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'mixhead', ...args]);
    return { code, stdout, stderr };
  } finally {
    err.mockRestore();
    out.mockRestore();
    process.exitCode = undefined;
  }
}

describe('mixhead backbones', () => {
  it('states that the bundled backbone is nsfwjs\'s fine-tuned, uint8-quantized MobileNetV2', async () => {
    const r = await cli('backbones', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { id: string; description: string }[];
    const bundled = rows.find((b) => b.id === 'bundled-mobilenet-v2')!;
    expect(bundled.description).toMatch(/nsfwjs/);
    expect(bundled.description).toMatch(/fine-tuned .* five NSFW classes/);
    expect(bundled.description).toMatch(/uint8-quantized/);
  });

  it('--inspect lists the 4-D cut points of an ONNX model with their H×W×C shapes', async () => {
    const file = path.resolve('test/fixtures/onnx/tiny-resnet.onnx');
    const r = await cli('backbones', '--inspect', file, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { size: number; cutPoints: { node: string; featureShape: number[] }[] };
    expect(j.size).toBe(64);
    expect(j.cutPoints.map((c) => c.node)).toContain('/layer2/relu_1/Relu');
    expect(j.cutPoints.find((c) => c.node === '/layer2/relu_1/Relu')!.featureShape).toEqual([8, 8, 16]);
    const text = await cli('backbones', '--inspect', file);
    expect(text.stdout).toMatch(/\/layer2\/relu_1\/Relu\s+Relu\s+8×8×16/);
  });

  it('--inspect of a file that is not ONNX: one line, exit 1', async () => {
    const r = await cli('backbones', '--inspect', path.resolve('test/fixtures/onnx/expected.json'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/expected\.json: not an ONNX model/);
  });
});

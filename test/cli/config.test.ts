import { describe, expect, it } from 'vitest';
import { parseTrainConfig, UsageError } from '../../src/cli/config.js';

describe('--config validation', () => {
  it('accepts the library option names', () => {
    const c = parseTrainConfig({ head: 'mlp', epochs: 3, mixup: { alpha: 0.4, excludeClasses: ['bag'] } });
    expect(c).toMatchObject({ head: 'mlp', epochs: 3, mixup: { alpha: 0.4, excludeClasses: ['bag'] } });
  });

  it.each([
    [{ mixup: { alpha: -1 } }, /run\.json: mixup\.alpha = -1: .*0/],
    [{ batchSize: 0 }, /run\.json: batchSize = 0: .*1/],
    [{ head: 'resnet' }, /run\.json: head = "resnet": .*linear.*mlp.*conv/],
    [{ mixAt: 'output' }, /run\.json: mixAt = "output": .*features.*hidden.*input/],
    [{ epochz: 3 }, /run\.json: .*epochz/],
  ])('rejects %j with one line naming the field, value and what is allowed', (value, pattern) => {
    let err: unknown;
    try {
      parseTrainConfig(value, 'run.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });
});

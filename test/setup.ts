// Every test file starts on the backend named by MIXHEAD_BACKEND (default wasm, the one CI has).
import { beforeAll } from 'vitest';
import { selectBackend } from '../src/tfjs/backend.js';

beforeAll(async () => {
  await selectBackend({ force: process.env.MIXHEAD_BACKEND ?? 'wasm' });
});

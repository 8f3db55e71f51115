// Worker entry used only when mixhead runs from its TypeScript sources (tests, `tsx`): a worker
// thread cannot load a .ts file by itself, so this loads extract-worker.ts through tsx's API and
// hands its task handler to the pool. Built code (dist/) loads extract-worker.js directly.
import { workerData } from 'node:worker_threads';

const { tsImport } = await import(workerData.tsxApi);
const worker = await tsImport(workerData.script, workerData.script);
export default worker.default;

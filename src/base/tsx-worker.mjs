// Worker entry used only when mixhead runs from its TypeScript sources (tests, `tsx`): a worker
// thread cannot load a .ts file by itself, so this loads the task handler named in workerData
// (`script`) through tsx's API and hands it to piscina. Built code (dist/) loads the handlers' .js
// files directly. See workerEntry() in src/base/worker-entry.ts.
import { workerData } from 'node:worker_threads';

const { tsImport } = await import(workerData.tsxApi);
const worker = await tsImport(workerData.script, workerData.script);
export default worker.default;

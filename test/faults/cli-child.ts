/** `mixhead …` from source, for tests that spawn it: node --import tsx test/faults/cli-child.ts ARGS */
import { main } from '../../src/cli/main.js';

process.exitCode = await main([process.argv[0]!, 'mixhead', ...process.argv.slice(2)]);

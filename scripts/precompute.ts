/**
 * The precompute step as a script (same options as `mixhead precompute`):
 *   tsx scripts/precompute.ts --data DIR --cache DIR [--backbone ID] [--dtype float16] [--workers N] [--shard i/n] [--json]
 */
import { main } from '../src/cli/main.js';

process.exitCode = await main([process.argv[0], 'mixhead', 'precompute', ...process.argv.slice(2)]);

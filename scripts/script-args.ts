import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A script's flags: `--help`/`-h` prints the usage and exits 0; otherwise `parseArgs` over
 * `options`, where a bad flag prints its message and the usage and exits 2.
 */
export function scriptArgs<const O extends Options>(options: O, usage: string): ReturnType<typeof parseArgs<{ options: O }>>['values'] {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ options }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
}

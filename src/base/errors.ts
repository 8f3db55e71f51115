/**
 * An option or argument value that is not allowed (negative α, batch size 0, an unknown head…).
 * The CLI reports it as a usage error (exit code 2); the message names the field, the value and what
 * is allowed.
 */
export class OptionError extends Error {
  override name = 'OptionError';
}

/** A mistake in how the command was called: a bad flag, config file or path (exit code 2). */
export class UsageError extends OptionError {
  override name = 'UsageError';
}

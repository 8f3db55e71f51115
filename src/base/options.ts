/**
 * The building blocks of every options schema (docs/architecture.md, "Options"): zod fields whose
 * every failure carries one "what is allowed" text, and the one formatter that turns a failed parse
 * into one line per problem, naming the field (or flag, or config file), the value and what is
 * allowed:
 *
 *   library call   mixup.alpha = -1: use a number ≥ 0
 *   config file    run.json: mixup.alpha = -1: use a number ≥ 0
 *   CLI flag       --alpha -1: use a number ≥ 0
 */
import { z } from 'zod';
import { OptionError } from './errors.js';

/** The "what is allowed" texts, one per kind of field. */
export const ALLOWED = {
  positiveInt: 'use a whole number ≥ 1',
  wholeNonNegative: 'use a whole number ≥ 0',
  safeInt: 'use a whole number',
  nonNegative: 'use a number ≥ 0',
  positive: 'use a number > 0',
  openUnit: 'use a number between 0 and 1',
  probability: 'use a number in [0, 1]',
  halfOpenUnit: 'use a number in [0, 1)',
  bool: 'use true or false',
  text: 'use a non-empty string',
  fn: 'use a function',
} as const;

function num(allowed: string) {
  return z.number({ invalid_type_error: allowed, required_error: allowed }).finite(allowed);
}

/** zod fields with the messages above. Each call returns a fresh schema. */
export const field = {
  positiveInt: () => num(ALLOWED.positiveInt).int(ALLOWED.positiveInt).min(1, ALLOWED.positiveInt),
  wholeNonNegative: () => num(ALLOWED.wholeNonNegative).int(ALLOWED.wholeNonNegative).min(0, ALLOWED.wholeNonNegative),
  safeInt: () => num(ALLOWED.safeInt).int(ALLOWED.safeInt).safe(ALLOWED.safeInt),
  nonNegative: () => num(ALLOWED.nonNegative).min(0, ALLOWED.nonNegative),
  positive: () => num(ALLOWED.positive).gt(0, ALLOWED.positive),
  /** (0, 1), both ends excluded. */
  openUnit: () => num(ALLOWED.openUnit).gt(0, ALLOWED.openUnit).lt(1, ALLOWED.openUnit),
  /** [0, 1]. */
  probability: () => num(ALLOWED.probability).min(0, ALLOWED.probability).max(1, ALLOWED.probability),
  /** [0, 1). */
  halfOpenUnit: () => num(ALLOWED.halfOpenUnit).min(0, ALLOWED.halfOpenUnit).lt(1, ALLOWED.halfOpenUnit),
  oneOf: <T extends readonly [string, ...string[]]>(values: T) => {
    const allowed = `use one of ${values.join(', ')}`;
    return z.enum(values as unknown as [T[number], ...T[number][]], { errorMap: () => ({ message: allowed }) });
  },
  bool: () => z.boolean({ invalid_type_error: ALLOWED.bool, required_error: ALLOWED.bool }),
  text: () => z.string({ invalid_type_error: ALLOWED.text, required_error: ALLOWED.text }).min(1, ALLOWED.text),
  fn: <F>() => z.custom<F>((v) => typeof v === 'function', ALLOWED.fn),
  /**
   * A field that also takes some words, e.g. `field.orWords(field.positive(), ALLOWED.positive, ['auto'])`
   * for an lr that may be 'auto'. A value of the right type but out of range gets the field's own
   * message; anything else gets `use a number > 0, or auto`.
   */
  orWords: <S extends z.ZodTypeAny, W extends readonly [string, ...string[]]>(schema: S, allowed: string, words: W) => {
    const message = `${allowed}, or ${words.join(', ')}`;
    return z.union([schema, z.enum(words as unknown as [W[number], ...W[number][]])], { errorMap: () => ({ message }) });
  },
};

type Path = ReadonlyArray<string | number>;

/** Unwraps optional/default/readonly/effects layers down to the schema that decides. */
export function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodReadonly) s = s._def.innerType;
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return s;
  }
}

/** The schema of the field at `path` (dotted or an array) inside an object schema, if any. */
export function schemaAt(root: z.ZodTypeAny, path: string | Path): z.ZodTypeAny | undefined {
  const keys = typeof path === 'string' ? path.split('.') : path;
  let s: z.ZodTypeAny | undefined = root;
  for (const k of keys) {
    const u: z.ZodTypeAny = unwrap(s);
    if (u instanceof z.ZodObject) s = (u.shape as Record<string, z.ZodTypeAny>)[String(k)];
    else if (u instanceof z.ZodArray) s = u.element;
    else return undefined;
    if (!s) return undefined;
  }
  return s;
}

/** The allowed values of an enum field (also of an array of enums), else undefined. */
export function choicesOf(schema: z.ZodTypeAny | undefined): readonly string[] | undefined {
  if (!schema) return undefined;
  let u = unwrap(schema);
  if (u instanceof z.ZodArray) u = unwrap(u.element);
  return u instanceof z.ZodEnum ? (u.options as string[]) : undefined;
}

function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const k of path) v = (v as Record<string | number, unknown> | undefined)?.[k];
  return v;
}

function shown(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * How a failed field is named in a message. `name` turns an issue path into the prefix before the
 * message (e.g. `--alpha -1` or `mixup.alpha = -1`); undefined falls back to the path form.
 */
export interface IssueNaming {
  /** Put before every line, e.g. `run.json: `. */
  prefix?: string;
  name?: (path: Path, value: unknown) => string | undefined;
}

/** One line per problem (see the file header). */
export function describeIssues(error: z.ZodError, value: unknown, root: z.ZodTypeAny, naming: IssueNaming = {}): string {
  const prefix = naming.prefix ?? '';
  return error.issues
    .map((issue) => {
      const path = issue.path;
      if (issue.code === 'unrecognized_keys') {
        const at = path.length ? `${path.join('.')}: ` : '';
        const shape = unwrap(schemaAt(root, path) ?? root);
        const valid = shape instanceof z.ZodObject ? `; valid options: ${Object.keys(shape.shape).join(', ')}` : '';
        return `${prefix}${at}unknown option ${issue.keys.map((k) => `'${k}'`).join(', ')}${valid}`;
      }
      // Refinements across fields (e.g. valid with validSplit) say everything themselves.
      if (issue.code === 'custom' && (issue.params as { plain?: boolean } | undefined)?.plain) return `${prefix}${issue.message}`;
      const got = valueAt(value, path);
      if (got === undefined && issue.code === 'invalid_type') return `${prefix}${path.join('.')} is required`;
      const name = naming.name?.(path, got) ?? `${path.join('.') || '(options)'} = ${shown(got)}`;
      return `${prefix}${name}: ${issue.message}`;
    })
    .join('\n');
}

/**
 * Parses `value` with `schema`; a failure throws `error` (default OptionError) whose message is
 * `describeIssues`' lines.
 */
export function parseOptions<S extends z.ZodTypeAny>(
  schema: S,
  value: unknown,
  naming: IssueNaming = {},
  ErrorClass: new (message: string) => Error = OptionError,
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ErrorClass(describeIssues(r.error, value, schema, naming));
  return r.data;
}

/** Drops the keys whose value is undefined (so that spreading does not erase a default). */
export function defined<T extends object>(x: T): Partial<T> {
  return Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as Partial<T>;
}
